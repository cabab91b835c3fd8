"""An SMS sender for a provider with an HTTP API: the skeleton a deployment adapts.

`LENDGATE_SMS_SENDER=gateway.sms.http:http_sender` with `LENDGATE_SMS_HTTP_URL` (and usually
`LENDGATE_SMS_HTTP_API_KEY`). Each code is one POST of
`{"phone", "template", "params": {"code", "minutes"}}` with the key as a bearer token; any 2xx
answer is delivery. A provider that wants another body or a signed request is a subclass
overriding `message_request`, named by its own factory in `LENDGATE_SMS_SENDER`.
"""

from __future__ import annotations

import httpx
import structlog

from gateway.core.settings import Settings
from gateway.sms.senders import SmsDeliveryFailed, SmsNotConfigured

log = structlog.get_logger()


class HttpSmsSender:
    """Posts each one-time code to an SMS provider's HTTP API."""

    kind = "http"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None,
        template: str,
        code_ttl_seconds: int,
        timeout_seconds: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.url = url
        self.template = template
        self.code_ttl_seconds = code_ttl_seconds
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(
            headers=headers, timeout=timeout_seconds, transport=transport, follow_redirects=False
        )

    def message_request(self, phone: str, code: str) -> httpx.Request:
        """The provider's request for one message (override for another provider's API)."""
        body = {
            "phone": phone,
            "template": self.template,
            "params": {"code": code, "minutes": max(1, self.code_ttl_seconds // 60)},
        }
        return self._http.build_request("POST", self.url, json=body)

    async def send_code(self, phone: str, code: str) -> None:
        """Hand the message to the provider; `SmsDeliveryFailed` unless it answers 2xx."""
        try:
            answer = await self._http.send(self.message_request(phone, code))
        except httpx.HTTPError as error:
            log.error("sms.delivery_failed", reason=type(error).__name__)
            raise SmsDeliveryFailed("the SMS provider could not be reached") from error
        if not answer.is_success:
            log.error("sms.delivery_failed", status=answer.status_code)
            raise SmsDeliveryFailed(f"the SMS provider answered {answer.status_code}")

    async def health(self) -> bool:
        """Whether the provider's endpoint answers at all (any status below 500)."""
        try:
            answer = await self._http.request("HEAD", self.url)
        except httpx.HTTPError:
            return False
        return answer.status_code < 500

    async def aclose(self) -> None:
        """Close the provider connections."""
        await self._http.aclose()


def http_sender(settings: Settings) -> HttpSmsSender:
    """The factory `LENDGATE_SMS_SENDER=gateway.sms.http:http_sender` names."""
    if not settings.sms_http_url:
        raise SmsNotConfigured("gateway.sms.http:http_sender needs LENDGATE_SMS_HTTP_URL")
    if not settings.is_development and not settings.sms_http_url.startswith("https://"):
        raise SmsNotConfigured("LENDGATE_SMS_HTTP_URL must be https outside development")
    return HttpSmsSender(
        settings.sms_http_url,
        api_key=settings.sms_http_api_key,
        template=settings.sms_http_template,
        code_ttl_seconds=settings.otp_ttl_seconds,
        timeout_seconds=settings.sms_http_timeout_seconds,
    )
