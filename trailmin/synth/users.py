"""The IAM users ``alice`` and ``bob`` and the root user, at the console."""

from __future__ import annotations

from trailmin.synth.agents import INTERNAL
from trailmin.synth.cast import Cast, Who
from trailmin.synth.console import (
    ANALYST_ACTIONS,
    DEV_ACTIONS,
    console_calls,
    console_login,
    user_identities,
)
from trailmin.synth.emit import Synth
from trailmin.synth.values import GLOBAL_REGION, denied_message, random_id


def ep_alice(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit alice signing in with MFA, then working in the console."""
    login, session = user_identities(s, c, c.alice, t, mfa=True)
    console_login(s, t, c, login, c.alice, mfa=f"arn:aws:iam::{c.account}:mfa/alice-iphone")
    console_calls(s, c, t, n - 1, identity=session, person=c.alice, actions=DEV_ACTIONS)


def ep_bob(s: Synth, c: Cast, region: str, t: int, n: int, *, fail_first: bool = False) -> None:
    """Emit bob signing in without MFA (after a failed try, when asked), then his calls."""
    rng = s.rng
    bob = c.bob
    if fail_first:
        # A failed sign-in shows the user name but no ARN, and an empty access key.
        attempt = {
            "type": "IAMUser",
            "principalId": bob.principal_id,
            "accountId": c.account,
            "accessKeyId": "",
            "userName": bob.name,
        }
        console_login(s, t, c, attempt, bob, mfa=None, failed=True)
        n -= 1
        t += rng.randrange(8_000, 40_000)
        if n <= 0:
            return
    login, session = user_identities(s, c, bob, t, mfa=False)
    console_login(s, t, c, login, bob, mfa=None)
    n -= 1
    if n > 0 and s.first(c, "bob-denied", 0.25):
        # bob opens the IAM users page, which his policies do not allow.
        t += rng.randrange(3_000, 20_000)
        resource = f"arn:aws:iam::{c.account}:user/"
        s.call(
            t,
            Who("iam", session, account=c.account, region=GLOBAL_REGION, ip=bob.ip, ua=INTERNAL),
            "ListUsers",
            {"maxItems": 100},
            read_only=True,
            error=("AccessDenied", denied_message(bob.arn, "iam:ListUsers", resource)),
            console=True,
        )
        n -= 1
    console_calls(s, c, t, n, identity=session, person=bob, actions=ANALYST_ACTIONS)


def ep_root(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit the root user signing in (with MFA; after mistyping the password, at times) and
    making one call."""
    account = c.account
    root = c.root
    login = {
        "type": "Root",
        "principalId": account,
        "arn": root.arn,
        "accountId": account,
        "accessKeyId": "",
    }
    mfa = f"arn:aws:iam::{account}:mfa/root-account-mfa-device"
    if n >= 3 and s.first(c, "root-mistyped", 0.2):
        # A mistyped password first: a failed sign-in, before MFA is asked for.
        console_login(s, t, c, login, root, mfa=None, failed=True)
        t += s.rng.randrange(10_000, 40_000)
        n -= 1
    console_login(s, t, c, login, root, mfa=mfa)
    if n < 2:
        return
    attributes = {"creationDate": s.clock.stamp(t), "mfaAuthenticated": "true"}
    identity = {
        **login,
        "accessKeyId": "ASIA" + random_id(s.rng, 16),
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": attributes,
        },
    }
    who = Who("iam", identity, account=account, region=GLOBAL_REGION, ip=root.ip, ua=INTERNAL)
    # The IAM dashboard: the account's summary, then its alias (when the sign-in took one
    # try, a call is left for it: each episode makes exactly its ``n`` calls).
    for name in ("GetAccountSummary", "ListAccountAliases")[: n - 1]:
        t += s.rng.randrange(10_000, 60_000)
        s.call(t, who, name, None, read_only=True, console=True)
