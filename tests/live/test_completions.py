"""completion/complete, driven by the SDK's client: every resource-template parameter and prompt argument completes,
with only what the caller may see, at most 100 values, best matches first."""

from __future__ import annotations

import json
import uuid

import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, PromptReference, ResourceTemplateReference

from renubu_mcp.completions import PROMPT_COMPLETIONS
from renubu_mcp.demo import ALICE
from renubu_mcp.resource_kinds import BY_TEMPLATE

from .conftest import ACME, ALICE_ACME_WORKFLOW, GLOBEX, INITECH, MODES, in_process

CUSTOMER = "renubu://customers/{customer_id}"
PARKED = "renubu://parking-lot/{item_id}"
ALICE_ACME_LAST_YEAR = "30000000-0000-4000-8000-000000000021"
ALICE_ACME_PARKED = "34000000-0000-4000-8000-000000000002"  # "Ask Acme about the fourth plant"


def template(uri: str) -> ResourceTemplateReference:
    return ResourceTemplateReference(type="ref/resource", uri=uri)


def prompt(name: str) -> PromptReference:
    return PromptReference(type="ref/prompt", name=name)


async def values(client: Client, ref, name: str, value: str, **context: str) -> list[str]:
    result = await client.complete(ref, {"name": name, "value": value}, context or None)
    return result.completion.values


async def names_of(client: Client, customer_ids: list[str]) -> list[str]:
    return [
        json.loads((await client.read_resource(f"renubu://customers/{c}")).contents[0].text)["customer"]["name"]
        for c in customer_ids
    ]


@pytest.mark.parametrize("mode", MODES)
async def test_every_template_parameter_and_prompt_argument_completes_with_values_the_caller_can_use(demo, mode):
    async with Client(in_process(demo.app_dsn, "alice@example.com"), mode=mode) as alice:
        templates = (await alice.list_resource_templates()).resource_templates
        assert templates
        for listed in templates:
            kind = BY_TEMPLATE[listed.uri_template]
            for parameter in kind.parameters:
                offered = await values(alice, template(listed.uri_template), parameter, "", slug="risk-scoring")
                assert len(offered) <= 100
                if parameter.endswith("_id") or parameter == "slug":
                    # Each value makes a URI the caller can read.
                    for value in offered[:5]:
                        uri = listed.uri_template.replace("{" + parameter + "}", value)
                        if "{" not in uri:
                            await alice.read_resource(uri)
        for listed_prompt in (await alice.list_prompts()).prompts:
            for argument in listed_prompt.arguments or ():
                assert (listed_prompt.name, argument.name) in PROMPT_COMPLETIONS
                assert await values(alice, prompt(listed_prompt.name), argument.name, "")


async def test_customer_ids_complete_by_name_fragment_and_only_the_callers_own(demo):
    async with (
        Client(in_process(demo.app_dsn, "alice@example.com")) as alice,
        Client(in_process(demo.app_dsn, "bob@example.com")) as bob,
        Client(in_process(demo.app_dsn, "admin@example.com")) as admin,
    ):
        assert await values(alice, template(CUSTOMER), "customer_id", "acm") == [ACME]
        assert await values(alice, template(CUSTOMER), "customer_id", "glob") == []
        assert await values(bob, template(CUSTOMER), "customer_id", "glob") == [GLOBEX]
        assert await values(admin, template(CUSTOMER), "customer_id", "glob") == [GLOBEX]
        assert INITECH in await values(alice, template(CUSTOMER), "customer_id", "INIT")
        mine = await values(alice, template(CUSTOMER), "customer_id", "")
        assert ACME in mine and GLOBEX not in mine
        assert await names_of(alice, mine) == sorted(await names_of(alice, mine), key=str.lower)
        # The prompt's customer_id completes the same way.
        assert await values(alice, prompt("renewal_brief"), "customer_id", "acme") == [ACME]


async def test_best_matches_come_first_and_at_most_100_with_has_more(demo_db, owner):
    ids = {name: str(uuid.uuid4()) for name in ("Orbit Zeal", "Zeal Partners", "New Zealand Wool", "Azealia Labs")}
    bulk = [(str(uuid.uuid4()), f"Zealous Bulk {n:03d}") for n in range(150)]
    await owner.executemany(
        "INSERT INTO public.customers (id, name) VALUES ($1, $2)", [(i, n) for n, i in ids.items()] + bulk
    )
    await owner.executemany(
        "INSERT INTO public.customer_assignments (customer_id, user_id) VALUES ($1, $2)",
        [(i, ALICE.id) for i in ids.values()],
    )
    async with (
        Client(in_process(demo_db.app_dsn, "alice@example.com")) as alice,
        Client(in_process(demo_db.app_dsn, "admin@example.com")) as admin,
    ):
        # The name starts with it, then a word does, then it is inside a word.
        ranked = await values(alice, template(CUSTOMER), "customer_id", "zeal")
        assert await names_of(alice, ranked) == ["Zeal Partners", "New Zealand Wool", "Orbit Zeal", "Azealia Labs"]
        # Nobody is offered more than 100; the client is told there are more.
        result = await admin.complete(template(CUSTOMER), {"name": "customer_id", "value": "zealous"})
        assert len(result.completion.values) == 100 and result.completion.has_more is True
        assert set(result.completion.values) <= {i for i, _ in bulk}
        assert await values(alice, template(CUSTOMER), "customer_id", "zealous") == []
        # With one or two letters an admin is offered names that start with them (a prefix is an index range).
        short = await values(admin, template(CUSTOMER), "customer_id", "ze")
        assert ids["Zeal Partners"] in short and ids["Orbit Zeal"] not in short


async def test_a_pasted_id_prefix_completes_to_the_ids_it_starts(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        offered = await values(alice, template(CUSTOMER), "customer_id", ACME[:24])
        assert ACME in offered and all(v.startswith(ACME[:24]) for v in offered) and GLOBEX not in offered
        # Acme's open renewal before last year's completed one.
        workflows = await values(alice, template("renubu://workflows/{workflow_id}"), "workflow_id", "acme")
        assert workflows == [ALICE_ACME_WORKFLOW, ALICE_ACME_LAST_YEAR]
        assert await values(alice, template("renubu://workflows/{workflow_id}"), "workflow_id", "globex") == []


async def test_doc_versions_complete_for_the_doc_already_chosen(demo):
    versions = "renubu://docs/{slug}/versions/{version_number}"
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        assert await values(alice, template(versions), "slug", "risk") == ["risk-scoring"]
        listed = await alice.call_tool("list_doc_versions", {"slug": "risk-scoring"})
        numbers = {str(listed.structured_content["current_version"])} | {
            str(v["version_number"]) for v in listed.structured_content["versions"]
        }
        offered = await values(alice, template(versions), "version_number", "", slug="risk-scoring")
        assert set(offered) == numbers and offered == sorted(offered, key=int, reverse=True)
        assert await values(alice, template(versions), "version_number", "") == []  # no doc chosen yet
        assert await values(alice, template(versions), "version_number", "", slug="no-such-doc") == []


async def test_features_integrations_installs_and_the_review_window_complete(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        assert "salesforce-sync" in await values(alice, template("renubu://features/{slug}"), "slug", "sales")
        assert await values(alice, template("renubu://integrations/{slug}"), "slug", "hub") == ["hubspot"]
        # Disabled entries are the admins' alone.
        assert await values(alice, template("renubu://integrations/{slug}"), "slug", "google") == []
        assert await values(alice, template("renubu://installs/{install_id}/events"), "install_id", "") == []
        assert await values(alice, prompt("at_risk_review"), "days", "") == ["30", "60", "90", "180", "365"]
        assert await values(alice, prompt("at_risk_review"), "days", "1") == ["180"]


async def test_an_unknown_template_prompt_or_argument_is_invalid_params(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        cases = [
            (template("renubu://nowhere/{id}"), "id", "resources/templates/list"),
            (template(CUSTOMER), "slug", "customer_id"),
            (prompt("no_such_prompt"), "x", "prompts/list"),
            (prompt("renewal_brief"), "days", "customer_id"),
        ]
        for ref, name, hint in cases:
            with pytest.raises(MCPError) as refused:
                await alice.complete(ref, {"name": name, "value": ""})
            assert refused.value.error.code == INVALID_PARAMS and hint in refused.value.error.message


async def test_a_very_long_fragment_matches_nothing(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        assert await values(alice, template(CUSTOMER), "customer_id", "a" * 500) == []
        assert await values(alice, template(CUSTOMER), "customer_id", "%_\\") == []


async def test_parked_items_complete_by_title_the_callers_own_open_ones_first(demo_db, owner):
    async with (
        Client(in_process(demo_db.app_dsn, "alice@example.com")) as alice,
        Client(in_process(demo_db.app_dsn, "bob@example.com")) as bob,
    ):
        assert await values(alice, template(PARKED), "item_id", "ask acme") == [ALICE_ACME_PARKED]
        assert await values(bob, template(PARKED), "item_id", "ask acme") == []
        assert await values(alice, template(PARKED), "item_id", ALICE_ACME_PARKED) == [ALICE_ACME_PARKED]
        mine = await values(alice, template(PARKED), "item_id", "")
        statuses = {
            r["id"]: r["status"]
            for r in map(
                dict,
                await owner.fetch("SELECT id::text, status FROM public.parking_lot_items WHERE user_id = $1", ALICE.id),
            )
        }
        assert set(mine) == set(statuses)
        ranked = [statuses[i] == "parked" for i in mine]
        assert ranked == sorted(ranked, reverse=True)  # parked ones before promoted or dismissed ones


async def test_the_check_in_time_zone_completes_to_iana_names(demo):
    async with Client(in_process(demo.app_dsn, "alice@example.com")) as alice:
        assert (await values(alice, prompt("daily_check_in"), "timezone", "new y"))[0] == "America/New_York"
        assert "Europe/Paris" in await values(alice, prompt("daily_check_in"), "timezone", "PARIS")
        assert await values(alice, prompt("daily_check_in"), "timezone", "nowhere-at-all") == []
        everything = await alice.complete(prompt("daily_check_in"), {"name": "timezone", "value": ""})
        assert everything.completion.values[0] == "UTC" and len(everything.completion.values) == 100
        assert everything.completion.has_more is True
        # Whatever is offered, the prompt takes.
        for zone in (await values(alice, prompt("daily_check_in"), "timezone", "america/"))[:5]:
            await alice.get_prompt("daily_check_in", {"timezone": zone})
