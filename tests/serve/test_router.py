"""Scale-out: a router in front of two real replicas, sticky by session id; a lost replica
ends its own sessions with ``410 lost`` naming it, while the other replica's go on."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.serve.conftest import LIMITS, Server, start_server
from verimath.interpreter import CellStatus, RemoteInterpreter

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Server, list[Server]]]:
    replicas = [start_server(*LIMITS), start_server(*LIMITS)]
    flags = [arg for replica in replicas for arg in ("--replica", replica.url)]
    router = start_server(*flags)
    yield router, replicas
    for process in (router, *replicas):
        process.stop()


def test_sessions_spread_over_replicas_and_stay_on_theirs(
    cluster: tuple[Server, list[Server]],
) -> None:
    router, replicas = cluster
    sessions = [router.create() for _ in range(4)]
    assert sorted(sid.split(".")[0] for sid in sessions) == ["r0", "r0", "r1", "r1"]
    for n, sid in enumerate(sessions):
        router.cell(sid, f"n = {n}")
    for n, sid in enumerate(sessions):
        assert router.cell(sid, "n")["output"] == f"{n}\n"  # every cell on its own replica
        index, inner = sid.split(".", 1)
        on_replica = replicas[int(index[1:])].client.get(f"/v1/sessions/{inner}").json()
        assert on_replica["cells"] == 2
        assert router.client.get(f"/v1/sessions/{sid}").json()["session_id"] == sid
    for sid in sessions:
        assert router.client.delete(f"/v1/sessions/{sid}").status_code == 200


def test_one_shot_runs_and_the_client_go_through_the_router(
    cluster: tuple[Server, list[Server]],
) -> None:
    router, _ = cluster
    reply = router.client.post("/run_code", json={"code": "print(6 * 7)", "language": "python"})
    assert reply.json()["run_result"]["stdout"] == "42\n"
    with RemoteInterpreter(router.url, token=router.token) as remote, remote.session() as s:
        s.run("y = 5")
        assert s.run("y + 1").output == "6\n"


def test_router_needs_the_token_and_refuses_unknown_ids(
    cluster: tuple[Server, list[Server]],
) -> None:
    router, _ = cluster
    assert (
        router.client.post("/v1/sessions", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    assert router.client.get("/v1/sessions/r7.abc").status_code == 404
    assert router.client.get("/v1/sessions/nonsense").status_code == 404


def test_a_lost_replica_ends_its_sessions_with_a_clear_status(
    cluster: tuple[Server, list[Server]],
) -> None:
    router, replicas = cluster
    sessions = [router.create() for _ in range(2)]
    by_replica = {sid.split(".")[0]: sid for sid in sessions}
    for sid in sessions:
        router.cell(sid, "v = 'mine'")
    replicas[1].stop(signal.SIGKILL)
    lost = router.client.post(f"/v1/sessions/{by_replica['r1']}/cells", json={"code": "v"})
    assert lost.status_code == 410 and lost.json()["error"] == "lost"
    assert replicas[1].url in lost.json()["message"]
    assert router.cell(by_replica["r0"], "v")["output"] == "'mine'\n"  # the other goes on
    assert router.create().startswith("r0.")  # new sessions go where there is a replica
    health = router.client.get("/health").json()
    assert health["status"] == "ok" and "unreachable" in health["replicas"][1]["status"]
    with RemoteInterpreter(router.url, token=router.token) as remote, remote.session() as s:
        assert s.run("1 + 1").status is CellStatus.OK
