"""Scale-out: two app servers (gunicorn, two ports) share one PostgreSQL schema; volunteers sell
at the same relay through both at once, and numbering, stock and ledger stay exact."""
import os
import threading
import time

import pytest

from portal.demo import DEMO_PASSWORD
from tests.test_faults import (VOLUNTEER, Volunteer, assert_ledger_verifies, assert_sales_whole_and_numbered,
                               demo_database, flask_command, sales_state, server_env, servers)

__all__ = ["demo_database", "servers"]  # fixtures shared with the kill -9 test

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="several app servers share PostgreSQL (TEST_DATABASE_URL), never a SQLite file")

CLIENTS_PER_SERVER = 3
SALES_PER_CLIENT = 8
SECOND_VOLUNTEER, SECOND_PASSWORD = "benevole2.spf-gap@relais05.example", "caisse-du-mardi-2e-poste"


@pytest.mark.slow
def test_two_servers_one_database_number_sales_without_gap(demo_database, servers):
    started = time.monotonic()
    done = flask_command(server_env(demo_database), "create-user", SECOND_VOLUNTEER, "--name", "Bénévole 2",
                         "--role", "volunteer", "--relay", "SPFGAP", "--password", SECOND_PASSWORD)
    assert done.returncode == 0, done.stderr
    before = sales_state(demo_database)
    first, second = servers(demo_database), servers(demo_database)
    volunteers = [Volunteer(server.url, email, before["charger"], password)
                  for server, email, password in ((first, VOLUNTEER, DEMO_PASSWORD),
                                                  (second, SECOND_VOLUNTEER, SECOND_PASSWORD))
                  for _ in range(CLIENTS_PER_SERVER)]
    acknowledged: list[tuple[str, int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(volunteers))

    def sell(volunteer: Volunteer):
        barrier.wait()
        try:
            for _ in range(SALES_PER_CLIENT):
                acknowledged.append(volunteer.sell())
        except BaseException as error:  # asserted below
            errors.append(error)

    threads = [threading.Thread(target=sell, args=(volunteer,)) for volunteer in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []

    after = sales_state(demo_database)
    new = {token: sale for token, sale in after["sales"].items() if token not in before["sales"]}
    assert len(acknowledged) == len(volunteers) * SALES_PER_CLIENT
    assert dict(acknowledged) == {token: sale[0] for token, sale in new.items()}
    assert_sales_whole_and_numbered(after)
    assert after["stock"] == before["stock"] - len(new)
    assert_ledger_verifies(demo_database)
    print(f"\nscale-out: 2 gunicorn servers, {len(volunteers)} clients, {len(new)} sales at one relay, "
          f"numbers {sorted(s[2] for s in new.values())[0]}…{sorted(s[2] for s in new.values())[-1]}, "
          f"{time.monotonic() - started:.1f} s")
