"""A seeded, fictional population: who each person is and the one life history they have.

Every person has one life history — employment spells, a housing-fund account,
a credit file, household utility bills — and each source's record is derived from
it when asked, so the sources agree the way real ones do: a gap between jobs is
unpaid in both 社保 and 公积金 (and bills run late more often then), the deposit
base is the contribution base while the person works for an employer that
deposits, and a 公积金 loan shows in the credit file too.

Names come from Faker `zh_CN`; resident IDs follow GB 11643 and employer codes
GB 32100, so the gateway's recognizers see realistic shapes. Nobody here is real.
"""
