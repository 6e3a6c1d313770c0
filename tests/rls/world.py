"""The rows every RLS test stands on, created by the owner with known ids (independent of the demo seed)."""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from renubu_mcp.db import Principal
from renubu_mcp.demo import ADMIN as DEMO_ADMIN
from renubu_mcp.demo import ALICE as DEMO_ALICE
from renubu_mcp.demo import BOB as DEMO_BOB
from renubu_mcp.demo import PAT as DEMO_PAT


def rid(name: str) -> UUID:
    """A stable id for a named fixture row."""
    return uuid5(NAMESPACE_URL, f"renubu-rls-test:{name}")


ADMIN, ALICE, BOB, PAT = DEMO_ADMIN.id, DEMO_ALICE.id, DEMO_BOB.id, DEMO_PAT.id
ADMIN2 = rid("user:admin2")  # a second admin, for deactivation
NEWCOMER = rid("user:newcomer")  # an auth user without a profile, for profile inserts

CUST_ALICE, CUST_BOB, CUST_SPARE = rid("customer:alice"), rid("customer:bob"), rid("customer:spare")
ASSIGN_ALICE, ASSIGN_BOB = rid("assignment:alice"), rid("assignment:bob")
CONTACT_ALICE, CONTACT_BOB = rid("contact:alice"), rid("contact:bob")
EXEC_ALICE, EXEC_BOB = rid("execution:alice"), rid("execution:bob")
TASK_ALICE, TASK_BOB = rid("task:alice"), rid("task:bob")
ACTION_ALICE, ACTION_BOB = rid("action:alice"), rid("action:bob")
COND_ALICE, COND_BOB = rid("condition:alice"), rid("condition:bob")
DOC_GUIDE, DOCV_GUIDE = rid("doc:guide"), rid("docversion:guide")
RELEASE_ONE = rid("release:one")
HELP_PUBLISHED, HELP_DRAFT = rid("help:published"), rid("help:draft")
FEATURE_ONE, FEATURE_NOTE = rid("feature:one"), rid("feature_update:note")
INTEG_ENABLED, INTEG_SPARE = rid("integration:enabled"), rid("integration:spare")
INTEG_DISABLED, INTEG_DEPRECATED = rid("integration:disabled"), rid("integration:deprecated")
UI_ALICE, UI_ALICE_DEPRECATED, UI_BOB = rid("install:alice"), rid("install:alice-deprecated"), rid("install:bob")
TOKEN_ALICE, TOKEN_BOB = rid("token:alice"), rid("token:bob")
STATE_ALICE = rid("oauth-state:alice")
REVOCATION_ALICE = rid("oauth-revocation:alice")
LINK_ALICE, LINK_ALICE_SPENT = rid("connect-link:alice"), rid("connect-link:alice-spent")
ENDPOINT_ALICE, EVENT_ALICE = rid("webhook-endpoint:alice"), rid("integration-event:alice")
PARKED_ALICE, PARKED_BOB = rid("parked-item:alice"), rid("parked-item:bob")
CHECK_IN_ALICE, CHECK_IN_BOB = rid("check-in:alice"), rid("check-in:bob")

WORLD_KEY = "rls-world-key-0123456789abcdef0123456789abcdef"
CLIENT_SECRET = "integration-client-secret-value"

PRINCIPALS: dict[str, Principal] = {
    "admin": Principal(ADMIN, "admin@example.com"),
    "admin2": Principal(ADMIN2, "admin2@example.com"),
    "alice": Principal(ALICE, "alice@example.com"),
    "bob": Principal(BOB, "bob@example.com"),
    "pat": Principal(PAT, "pat@example.com"),
    "anon": Principal.anonymous(),
}

_USERS = [
    (ADMIN, "admin@example.com", "admin"),
    (ADMIN2, "admin2@example.com", "admin"),
    (ALICE, "alice@example.com", "csm"),
    (BOB, "bob@example.com", "csm"),
    (PAT, "pat@example.com", "pm"),
    (NEWCOMER, "newcomer@example.com", "user"),
]


def world_sql() -> str:
    """One script, run as the owner (RLS does not apply), building the whole fixture world."""
    users = ",\n".join(f"('{i}', '{email}')" for i, email, _ in _USERS)
    roles = "\n".join(f"UPDATE public.profiles SET role = '{role}' WHERE id = '{i}';" for i, _, role in _USERS)
    enc = f"public.encrypt_oauth_token(%s, '{WORLD_KEY}')"
    return f"""
INSERT INTO auth.users (id, email) VALUES
{users};
{roles}
DELETE FROM public.profiles WHERE id = '{NEWCOMER}';

INSERT INTO public.customers (id, name, arr, created_by) VALUES
  ('{CUST_ALICE}', 'Alice Account', 1000, '{ADMIN}'),
  ('{CUST_BOB}', 'Bob Account', 2000, '{ADMIN}'),
  ('{CUST_SPARE}', 'Spare Account', 3000, '{ADMIN}');
INSERT INTO public.customer_assignments (id, customer_id, user_id) VALUES
  ('{ASSIGN_ALICE}', '{CUST_ALICE}', '{ALICE}'),
  ('{ASSIGN_BOB}', '{CUST_BOB}', '{BOB}');
INSERT INTO public.contacts (id, customer_id, name, email) VALUES
  ('{CONTACT_ALICE}', '{CUST_ALICE}', 'Carla Contact', 'carla@alice-account.example'),
  ('{CONTACT_BOB}', '{CUST_BOB}', 'Dan Contact', 'dan@bob-account.example');

INSERT INTO public.workflow_executions (id, user_id, customer_id, workflow_type) VALUES
  ('{EXEC_ALICE}', '{ALICE}', '{CUST_ALICE}', 'renewal'),
  ('{EXEC_BOB}', '{BOB}', '{CUST_BOB}', 'renewal');
INSERT INTO public.workflow_tasks (id, workflow_execution_id, title, created_by) VALUES
  ('{TASK_ALICE}', '{EXEC_ALICE}', 'Call Carla', '{ALICE}'),
  ('{TASK_BOB}', '{EXEC_BOB}', 'Call Dan', '{BOB}');
INSERT INTO public.workflow_actions (id, workflow_execution_id, user_id, action_type) VALUES
  ('{ACTION_ALICE}', '{EXEC_ALICE}', '{ALICE}', 'note_added'),
  ('{ACTION_BOB}', '{EXEC_BOB}', '{BOB}', 'note_added');
INSERT INTO public.workflow_conditions (id, workflow_execution_id, condition_type, condition_config) VALUES
  ('{COND_ALICE}', '{EXEC_ALICE}', 'risk_score_at_least', '{{"threshold": 80}}'),
  ('{COND_BOB}', '{EXEC_BOB}', 'risk_score_at_least', '{{"threshold": 80}}');

INSERT INTO public.documentation (id, slug, title, content, created_by) VALUES
  ('{DOC_GUIDE}', 'rls-guide', 'Renewal guide', 'How renewals work.', '{ADMIN}');
INSERT INTO public.releases (id, version, is_current, created_by) VALUES
  ('{RELEASE_ONE}', '0.1.0', true, '{ADMIN}');
INSERT INTO public.documentation_versions (id, doc_id, release_id, version_number, title, content) VALUES
  ('{DOCV_GUIDE}', '{DOC_GUIDE}', '{RELEASE_ONE}', 1, 'Renewal guide', 'How renewals work.');
INSERT INTO public.help_articles (id, doc_id, title, category, published) VALUES
  ('{HELP_PUBLISHED}', '{DOC_GUIDE}', 'Published help', 'basics', true),
  ('{HELP_DRAFT}', '{DOC_GUIDE}', 'Draft help', 'basics', false);

INSERT INTO public.features (id, slug, title, status, owner_id) VALUES
  ('{FEATURE_ONE}', 'rls-feature', 'RLS feature', 'planned', '{PAT}');
INSERT INTO public.feature_updates (id, feature_id, update_type, note, changed_by) VALUES
  ('{FEATURE_NOTE}', '{FEATURE_ONE}', 'note', 'Kick-off', '{PAT}');

INSERT INTO public.mcp_integrations (id, slug, name, connection_type, status, client_secret_encrypted) VALUES
  ('{INTEG_ENABLED}', 'rls-enabled', 'Enabled', 'api_key', 'enabled', {enc % repr(CLIENT_SECRET)}),
  ('{INTEG_SPARE}', 'rls-spare', 'Spare', 'api_key', 'enabled', NULL),
  ('{INTEG_DISABLED}', 'rls-disabled', 'Disabled', 'api_key', 'disabled', {enc % repr(CLIENT_SECRET)}),
  ('{INTEG_DEPRECATED}', 'rls-deprecated', 'Deprecated', 'api_key', 'deprecated', NULL);
INSERT INTO public.user_integrations (id, user_id, integration_id, status) VALUES
  ('{UI_ALICE}', '{ALICE}', '{INTEG_ENABLED}', 'active'),
  ('{UI_ALICE_DEPRECATED}', '{ALICE}', '{INTEG_DEPRECATED}', 'active'),
  ('{UI_BOB}', '{BOB}', '{INTEG_ENABLED}', 'active');
INSERT INTO public.oauth_tokens (id, user_integration_id, user_id, access_token_encrypted, encryption_key_id) VALUES
  ('{TOKEN_ALICE}', '{UI_ALICE}', '{ALICE}', {enc % "'alice-access-token'"}, 'k1'),
  ('{TOKEN_BOB}', '{UI_BOB}', '{BOB}', {enc % "'bob-access-token'"}, 'k1');
INSERT INTO public.oauth_states (id, state_hash, user_id, user_integration_id, code_verifier_encrypted,
                                 encryption_key_id, redirect_uri) VALUES
  ('{STATE_ALICE}', repeat('b', 64), '{ALICE}', '{UI_ALICE}', {enc % "'alice-code-verifier'"}, 'k1',
   'http://127.0.0.1:8765/oauth/callback');
INSERT INTO public.oauth_revocations (id, user_integration_id, user_id, token_encrypted, token_type_hint,
                                      encryption_key_id) VALUES
  ('{REVOCATION_ALICE}', '{UI_ALICE}', '{ALICE}', {enc % "'alice-replaced-token'"}, 'access_token', 'k1');
INSERT INTO public.connect_links (id, token_hash, user_id, user_integration_id, purpose, consumed_at) VALUES
  ('{LINK_ALICE}', repeat('c', 64), '{ALICE}', '{UI_ALICE}', 'api_key', NULL),
  ('{LINK_ALICE_SPENT}', repeat('d', 64), '{ALICE}', '{UI_ALICE}', 'api_key', now());
INSERT INTO public.webhook_endpoints (id, user_integration_id, user_id, signing_secret_encrypted, encryption_key_id,
                                      secret_hint) VALUES
  ('{ENDPOINT_ALICE}', '{UI_ALICE}', '{ALICE}', {enc % "'whsec_alice'"}, 'k1', 'lice');
INSERT INTO public.integration_events (id, user_integration_id, user_id, sent_at, event_type, payload,
                                       signature_hash) VALUES
  ('{EVENT_ALICE}', '{UI_ALICE}', '{ALICE}', now(), 'invoice.paid', '{{"type": "invoice.paid"}}', repeat('e', 64));

INSERT INTO public.parking_lot_items (id, user_id, title, customer_id, workflow_execution_id, created_by) VALUES
  ('{PARKED_ALICE}', '{ALICE}', 'Ask Carla about seats', '{CUST_ALICE}', '{EXEC_ALICE}', '{ALICE}'),
  ('{PARKED_BOB}', '{BOB}', 'Ask Dan about seats', '{CUST_BOB}', '{EXEC_BOB}', '{BOB}');
INSERT INTO public.workflow_check_ins (id, workflow_execution_id, status, confidence, created_by) VALUES
  ('{CHECK_IN_ALICE}', '{EXEC_ALICE}', 'on_track', 4, '{ALICE}'),
  ('{CHECK_IN_BOB}', '{EXEC_BOB}', 'at_risk', 2, '{BOB}');
"""
