"""IAM Identity Center: the permission set's role, assumed through SAML by people signing in."""

from __future__ import annotations

import base64

from trailmin.synth.cast import Cast, Person, Who
from trailmin.synth.console import ADMIN_ACTIONS, console_calls, console_login
from trailmin.synth.emit import Synth
from trailmin.synth.values import (
    GLOBAL_REGION,
    MS_HOUR,
    Record,
    expiration,
    random_id,
    resource_entry,
)


def ep_sso(s: Synth, c: Cast, region: str, t: int, n: int) -> None:
    """Emit an IAM Identity Center sign-in to the console, then ``n - 2`` console calls."""
    signed_in = sso_sign_in(s, c, t, console=n >= 2)
    if signed_in is not None:
        identity, person, t = signed_in
        console_calls(s, c, t, n - 2, identity=identity, person=person, actions=ADMIN_ACTIONS)


def sso_sign_in(s: Synth, c: Cast, t: int, *, console: bool) -> tuple[Record, Person, int] | None:
    """Emit someone getting the permission set's role through SAML and, with ``console``,
    signing in to the console; return their console identity, who they are and the time."""
    rng = s.rng
    account = c.account
    person = rng.choice(c.sso_people)
    email = person.name
    access_key = "ASIA" + random_id(rng, 16)
    session_arn = f"arn:aws:sts::{account}:assumed-role/{c.sso_role_name}/{email}"
    saml_user = {
        "type": "SAMLUser",
        "principalId": f"{c.saml_idp}:{email}",
        "userName": email,
        "identityProvider": c.saml_idp,
    }
    credentials = {
        "accessKeyId": access_key,
        "sessionToken": s.token(),
        "expiration": expiration(t + 12 * MS_HOUR),
    }
    assertion = base64.b64encode(rng.randbytes(24)).decode()
    s.call(
        t,
        Who("sts", saml_user, account=account, region=GLOBAL_REGION, ip=person.ip, ua=person.ua),
        "AssumeRoleWithSAML",
        {
            "sAMLAssertionID": "_" + s.uuid(),
            "roleSessionName": email,
            "roleArn": c.sso_role_arn,
            "principalArn": c.saml_provider_arn,
            "durationSeconds": 43200,
        },
        response={
            "credentials": credentials,
            "assumedRoleUser": {
                "assumedRoleId": f"{c.sso_role_id}:{email}",
                "arn": session_arn,
            },
            "subject": email,
            "subjectType": "persistent",
            "issuer": f"https://portal.sso.{c.sso_region}.amazonaws.com/saml/assertion/"
            + assertion,
            "audience": "https://signin.aws.amazon.com/saml",
            "nameQualifier": c.saml_idp,
        },
        read_only=True,
        resources=[
            resource_entry("AWS::IAM::Role", c.sso_role_arn, account),
            resource_entry("AWS::IAM::SAMLProvider", c.saml_provider_arn, account),
        ],
    )
    if not console:
        return None
    t += rng.randrange(500, 3_000)
    context = {
        "sessionIssuer": c.sso_issuer,
        "webIdFederationData": {},
        "attributes": {"creationDate": s.clock.stamp(t), "mfaAuthenticated": "false"},
    }
    login = {
        "type": "AssumedRole",
        "principalId": f"{c.sso_role_id}:{email}",
        "arn": session_arn,
        "accountId": account,
    }
    console_login(s, t, c, {**login, "sessionContext": context}, person, mfa=None)
    return {**login, "accessKeyId": access_key, "sessionContext": context}, person, t
