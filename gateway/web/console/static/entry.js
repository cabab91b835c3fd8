/* One audit entry: its leaf, and its inclusion proof checked in the browser. */
import { byId, h, t } from "./shared.js";
import { audit, gatewayJwks } from "./audit.js";
import {
  MARKS,
  consoleHref,
  eventLabel,
  hash,
  part,
  reasonText,
  terms,
  treeHeadTerms,
  verdict,
  when,
} from "./parts.js";
import { canonicalJson, verifyEntry, verifyTreeHead } from "./verify.js";

const LEAF_ORDER = [
  "seq",
  "ts",
  "type",
  "actor",
  "outcome",
  "reason",
  "consent_id",
  "lender_id",
  "borrower_ref",
  "purpose",
  "features",
  "source_fields",
  "payload_digest",
  "request_id",
  "policy_version",
];

function leafValue(name, value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) {
    return value.length ? h("code", {}, value.join(t("list_separator"))) : "—";
  }
  if (name === "ts")
    return h(
      "span",
      {},
      when(value),
      " ",
      h("span", { class: "muted small mono" }, String(value)),
    );
  // The leaf's own values, verbatim: identifiers a regulator copies, set apart as code.
  if (typeof value === "object") return h("code", {}, JSON.stringify(value));
  return h("code", {}, String(value));
}

async function fetchEntry(index) {
  const found = await audit("/entries", { limit: 1, cursor: index > 0 ? index - 1 : null });
  const entry = found.entries[0];
  return entry && entry.index === index ? entry : null;
}

export async function showEntry() {
  const box = byId("entry");
  const index = Number(document.body.dataset.entryIndex);
  const entry = await fetchEntry(index);
  if (!entry) {
    box.replaceChildren(
      h("p", { class: "card muted", id: "entry-missing" }, t("entry_not_found", { index })),
    );
    return;
  }
  const leaf = entry.leaf || {};
  const names = [
    ...LEAF_ORDER.filter((name) => name in leaf),
    ...Object.keys(leaf).filter((name) => !LEAF_ORDER.includes(name)),
  ];
  let canonical = null;
  try {
    canonical = canonicalJson(leaf);
  } catch (error) {
    canonical = null;
  }
  const inclusion = h(
    "section",
    { class: "card", "aria-labelledby": "inclusion-heading", id: "inclusion" },
    h("h2", { id: "inclusion-heading" }, t("section_inclusion")),
    h("p", {}, t("inclusion_intro")),
    h("div", { id: "inclusion-result" }, verdict({ state: "pending" }, "inclusion-verdict")),
  );
  box.replaceChildren(
    h(
      "article",
      { class: "card", "aria-labelledby": "entry-heading", dataset: { index: entry.index } },
      h(
        "header",
        { class: "card-head" },
        h("h2", { id: "entry-heading" }, t("entry_heading", { index: entry.index })),
        h("span", { class: "badge" }, eventLabel(leaf.type)),
      ),
      h("h3", {}, t("entry_leaf")),
      terms(
        names.map((name) => [h("code", {}, name), leafValue(name, leaf[name])]),
        "leaf",
      ),
      terms([[t("entry_leaf_hash"), hash(entry.leaf_hash, "leaf-hash")]]),
      canonical === null
        ? null
        : h(
            "details",
            {},
            h("summary", {}, t("canonical_json")),
            h("pre", { class: "code" }, h("code", {}, canonical)),
          ),
      h(
        "p",
        { class: "row small" },
        leaf.consent_id
          ? h(
              "a",
              { href: consoleHref("/entries", { consent_id: leaf.consent_id }) },
              t("entry_consent_link"),
            )
          : null,
        leaf.lender_id
          ? h(
              "a",
              { href: consoleHref("/entries", { lender_id: leaf.lender_id }) },
              t("entry_lender_link"),
            )
          : null,
      ),
    ),
    inclusion,
  );
  await part(byId("inclusion-result"), () => showInclusion(entry, byId("inclusion-result")));
}

async function showInclusion(entry, box) {
  const [head, jwks] = await Promise.all([audit("/sth"), gatewayJwks()]);
  const proof = await audit("/proofs/inclusion", {
    index: entry.index,
    tree_size: head.tree_size,
  });
  const headResult = await verifyTreeHead(head, jwks);
  const checked = await verifyEntry(entry, proof, head, headResult);
  const overall =
    checked.overall.state === "verified"
      ? verdict(
          checked.overall,
          "inclusion-verdict",
          t("inclusion_verified", { index: entry.index, size: head.tree_size }),
        )
      : verdict(checked.overall, "inclusion-verdict");
  const step = (key, result) =>
    h(
      "li",
      { class: "step step-" + result.state, dataset: { step: key, state: result.state } },
      h("span", { class: "verdict-mark", "aria-hidden": "true" }, MARKS[result.state] || "?"),
      " ",
      t("step_" + key),
      result.state === "failed" || result.state === "unavailable"
        ? h("span", { class: "muted small block" }, reasonText(result))
        : null,
    );
  box.replaceChildren(
    overall,
    h(
      "ol",
      { class: "steps" },
      step("leaf", checked.steps.leaf),
      step("proof", checked.steps.proof),
      step("signature", checked.steps.signature),
    ),
    h("h3", {}, t("inclusion_head")),
    treeHeadTerms(head, headResult, "proof-head"),
    h(
      "details",
      {},
      h("summary", {}, t("proof_path", { n: proof.inclusion_path.length })),
      h(
        "ol",
        { class: "hashes", id: "proof-path" },
        proof.inclusion_path.map((node) => h("li", {}, hash(node))),
      ),
    ),
  );
}
