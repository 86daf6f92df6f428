"""Ingesting dbt artifacts into state.db: one clear error for missing, corrupt or foreign files;
model configs (tracked models, track_column, thresholds) and chain tables; one transaction."""

from __future__ import annotations

import json
import sqlite3

import pytest

from amp_dbt_monitor import ingest as ingest_module
from amp_dbt_monitor import store
from amp_dbt_monitor.errors import ArtifactError, ConfigError
from amp_dbt_monitor.ingest import ingest, models_of, read_artifact, runs_of
from dbt.adapters.amp.state import (
    MIGRATIONS,
    BlockProgress,
    ModelKey,
    connect,
    read_block_progress,
    replace_block_progress,
    schema_version,
)
from tests.monitor_artifacts import (
    CHAIN,
    dataset_result,
    manifest,
    model_node,
    run_results,
    source_node,
    write_project,
)

LOGS_SQL = f'select block_num, address from "{CHAIN}".logs where block_num > 10'


def dataset(name: str, sql: str = LOGS_SQL, **config) -> dict:
    return model_node(name, materialized="dataset", compiled_code=sql, deploy=True, **config)


def project_with(tmp_path, nodes, results=None, sources=()):
    return write_project(
        tmp_path / "proj",
        manifest(nodes, list(sources)),
        run_results(results) if results is not None else None,
    )


def state(project) -> sqlite3.Connection:
    return connect(project / ".amp-dbt" / "state.db")


def do_ingest(project, **kwargs):
    conn = state(project)
    try:
        return ingest(
            conn,
            project / "target" / "manifest.json",
            project / "target" / "run_results.json",
            **kwargs,
        )
    finally:
        conn.close()


# --- one clear error per bad file ---------------------------------------------------------------


def test_missing_manifest_says_how_to_make_it(tmp_path):
    with pytest.raises(ArtifactError) as excinfo:
        read_artifact(tmp_path / "target" / "manifest.json", "manifest")
    message = str(excinfo.value)
    assert "manifest.json does not exist" in message and "`dbt build`" in message
    assert "--project-dir" in message


def test_corrupt_manifest_is_named_with_the_fix(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text('{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/ma')
    with pytest.raises(ArtifactError) as excinfo:
        read_artifact(path, "manifest")
    assert str(excinfo.value).startswith(f"{path} is not valid JSON")
    assert "interrupted run" in str(excinfo.value)


@pytest.mark.parametrize(
    "kind, data, expected",
    [
        (
            "manifest",
            {
                "metadata": {
                    "dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v11.json"
                }
            },
            "schema 'https://schemas.getdbt.com/dbt/manifest/v11.json'",
        ),
        ("manifest", [1, 2, 3], "no dbt_schema_version"),
        ("manifest", {"name": "some other json"}, "no dbt_schema_version"),
        (
            "run_results",
            {
                "metadata": {
                    "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v5.json"
                }
            },
            "run-results/v6.json",
        ),
        (
            "run_results",
            manifest([]),  # a manifest where run results belong
            "not a dbt 1.11 run results artifact",
        ),
    ],
)
def test_foreign_artifacts_are_refused(tmp_path, kind, data, expected):
    path = tmp_path / f"{kind}.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ArtifactError) as excinfo:
        read_artifact(path, kind)
    assert expected in str(excinfo.value)
    assert "dbt-core 1.11" in str(excinfo.value)


def test_manifest_of_another_adapter_is_refused(tmp_path):
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest([model_node("a")], adapter="postgres")))
    with pytest.raises(ArtifactError, match="written for adapter 'postgres', not 'amp'"):
        read_artifact(path, "manifest")


# --- models and their configs -------------------------------------------------------------------


def test_which_models_are_tracked_and_how():
    nodes = [
        dataset("transfers"),
        dataset("versioned", version="1.2.0", dataset_name="erc20", end_block="-10"),
        dataset("quiet", track_progress=False),
        model_node(
            "decoded",
            materialized="query",
            compiled_code=LOGS_SQL + ";\n-- trailing",
            track_progress=True,
            track_column="block_num",
            alert_threshold_minutes=5,
        ),
        model_node("helper"),
    ]
    specs = {m.name: m for m in models_of(manifest(nodes))}
    transfers = specs["transfers"]
    assert transfers.tracked and transfers.track_column == "_block_num"
    assert (transfers.dataset_namespace, transfers.dataset_name) == ("dbt_test", "transfers")
    assert (transfers.dataset_revision, transfers.dataset_table) == ("dev", "transfers")
    assert transfers.alert_threshold_minutes == 30.0
    assert transfers.upstream == ((CHAIN, "logs"),)
    assert transfers.probe_sql is None  # the dataset table is probed, not the SQL
    versioned = specs["versioned"]
    assert (versioned.dataset_name, versioned.dataset_revision) == ("erc20", "1.2.0")
    assert versioned.end_block == "-10"
    assert not specs["quiet"].tracked
    decoded = specs["decoded"]
    assert decoded.tracked and decoded.track_column == "block_num"
    assert decoded.alert_threshold_minutes == 5.0
    assert decoded.probe_sql == LOGS_SQL
    assert decoded.upstream == ((CHAIN, "logs"),)
    assert not specs["helper"].tracked and specs["helper"].upstream == ()


def test_upstream_follows_the_projects_dataset_models_to_the_chain():
    base = dataset("base", f'select block_num, hash from "{CHAIN}".blocks')
    middle = dataset("middle", 'select block_num from "dbt_test/base@dev".base')
    # an ephemeral CTE inlined into the compiled SQL, and a second chain dataset
    top = model_node(
        "top",
        materialized="query",
        track_progress=True,
        compiled_code=(
            'with __dbt__cte__x as (select block_num from "_/eth_rpc@1.0.0".transactions) '
            'select m.block_num from "dbt_test/middle@dev".middle m join __dbt__cte__x x '
            "on m.block_num = x.block_num"
        ),
    )
    specs = {m.name: m for m in models_of(manifest([top, middle, base]))}
    assert specs["middle"].upstream == ((CHAIN, "blocks"),)
    assert specs["top"].upstream == ((CHAIN, "blocks"), ("_/eth_rpc@1.0.0", "transactions"))


def test_without_compiled_sql_the_sources_are_the_chain_tables():
    source = source_node("logs")
    node = model_node(
        "t", materialized="query", track_progress=True, depends_on=(source["unique_id"],)
    )
    [spec] = models_of(manifest([node], [source]))
    assert spec.upstream == ((CHAIN, "logs"),) and spec.probe_sql is None


@pytest.mark.parametrize("value", ["soon", 0, -5, True])
def test_bad_threshold_names_the_model_and_where_to_fix_it(value):
    node = dataset("transfers", alert_threshold_minutes=value)
    with pytest.raises(ConfigError) as excinfo:
        models_of(manifest([node]))
    message = str(excinfo.value)
    assert "model 'transfers' (models/transfers.sql)" in message
    assert "alert_threshold_minutes must be a positive number" in message
    assert "+alert_threshold_minutes" in message


def test_bad_track_progress_is_refused():
    with pytest.raises(ConfigError, match="track_progress must be true or false"):
        models_of(manifest([model_node("t", track_progress="sometimes")]))


def test_run_results_give_jobs_and_dataset_hashes():
    results = run_results(
        [
            dataset_result("model.amp_project.transfers", name="transfers", job_id=7),
            {"unique_id": "test.amp_project.not_null", "status": "pass", "timing": []},
            {
                "unique_id": "model.amp_project.q",
                "status": "error",
                "message": "boom",
                "timing": [],
                "adapter_response": {},
            },  # fmt: skip
        ]
    )
    runs = {r.model_id: r for r in runs_of(results)}
    assert set(runs) == {"model.amp_project.transfers", "model.amp_project.q"}
    transfers = runs["model.amp_project.transfers"]
    assert (transfers.job_id, transfers.job_status) == (7, "RUNNING")
    assert transfers.dataset == f"dbt_test/transfers@{'ab' * 32}"
    assert transfers.completed_at == "2026-03-01T12:00:02Z"
    failed = runs["model.amp_project.q"]
    assert (failed.status, failed.message, failed.job_id) == ("error", "boom", None)
    assert failed.completed_at == "2026-03-01T12:00:03Z"  # the run's time when no timing


# --- into state.db ------------------------------------------------------------------------------


def test_ingest_writes_models_runs_and_jobs(tmp_path):
    project = project_with(
        tmp_path,
        [dataset("transfers"), model_node("helper")],
        [dataset_result("model.amp_project.transfers", name="transfers", job_id=7)],
    )
    summary = do_ingest(project)
    assert (summary.manifest, summary.run_results, summary.models, summary.tracked) == (
        True,
        True,
        2,
        1,
    )
    conn = state(project)
    [model] = store.tracked_models(conn)
    assert (model.name, model.job_id, model.manifest_hash) == ("transfers", 7, "ab" * 32)
    assert model.deployed_reference == f"dbt_test/transfers@{'ab' * 32}"
    [job] = store.job_history(conn)
    assert (job.job_id, job.model_name, job.status) == (7, "transfers", "RUNNING")
    assert [r.status for r in store.statuses(conn, include_untracked=True)] == [
        "untracked",
        "unknown",
    ]


def test_unchanged_artifacts_are_not_read_again(tmp_path, monkeypatch):
    project = project_with(tmp_path, [dataset("transfers")])
    assert do_ingest(project).manifest

    def fail(*args):
        raise AssertionError("read again")

    monkeypatch.setattr(ingest_module, "read_artifact", fail)
    summary = do_ingest(project)
    assert (summary.manifest, summary.models, summary.tracked) == (False, 1, 1)


def test_a_later_run_without_a_model_keeps_its_last_job(tmp_path):
    nodes = [dataset("a"), dataset("b")]
    project = project_with(
        tmp_path, nodes, [dataset_result("model.amp_project.a", name="a", job_id=1)]
    )
    do_ingest(project)
    project_with(tmp_path, nodes, [dataset_result("model.amp_project.b", name="b", job_id=2)])
    do_ingest(project, force=True)
    conn = state(project)
    assert {m.name: m.job_id for m in store.tracked_models(conn)} == {"a": 1, "b": 2}


def test_a_model_removed_from_the_manifest_goes_with_its_state(tmp_path):
    project = project_with(tmp_path, [dataset("a"), dataset("b")])
    do_ingest(project)
    conn = state(project)
    record = store.PollRecord("2026-03-01T00:00:00+00:00", "ok", "ok")
    record.states = [store.StateRecord(f"model.amp_project.{n}", n, "fresh", "") for n in "ab"]
    store.write_poll(conn, record)
    project_with(tmp_path, [dataset("a")])
    do_ingest(project, force=True)
    assert [s.name for s in store.statuses(conn)] == ["a"]
    assert conn.execute("SELECT count(*) FROM model_state").fetchone()[0] == 1


def test_an_interrupted_ingest_leaves_the_previous_state(tmp_path, monkeypatch):
    project = project_with(tmp_path, [dataset("a"), dataset("b")])
    do_ingest(project)
    project_with(tmp_path, [dataset(name) for name in ("a", "c", "d", "e")])
    calls = []
    real = store._model_values

    def crash_on_the_third_model(model):
        calls.append(model.name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C half-way through the writes
        return real(model)

    monkeypatch.setattr(store, "_model_values", crash_on_the_third_model)
    with pytest.raises(KeyboardInterrupt):
        do_ingest(project, force=True)
    conn = state(project)
    assert [m.name for m in store.tracked_models(conn)] == ["a", "b"]
    monkeypatch.setattr(store, "_model_values", real)
    do_ingest(project)  # the fingerprint was not recorded either: the next ingest reads it
    assert [m.name for m in store.tracked_models(conn)] == ["a", "c", "d", "e"]


def test_a_state_db_from_before_the_monitor_migrates(tmp_path):
    project = project_with(tmp_path, [dataset("a")])
    path = project / ".amp-dbt" / "state.db"
    old = connect(path, MIGRATIONS[:1])  # what the adapter alone wrote before the monitor existed
    key = ModelKey("amp_project", "dev", "model.amp_project.q")
    replace_block_progress(old, key, [BlockProgress("mainnet", 0, 120)])
    old.close()
    do_ingest(project)
    conn = state(project)
    assert schema_version(conn) == MIGRATIONS[-1].version >= 2
    assert [m.name for m in store.tracked_models(conn)] == ["a"]
    assert read_block_progress(conn, key)["mainnet"].last_block == 120


def test_watch_keeps_the_last_good_ingest_while_dbt_rewrites_the_manifest(tmp_path):
    from click.testing import CliRunner

    from amp_dbt_monitor.cli import cli

    project = project_with(tmp_path, [dataset("transfers")])
    where = ["--project-dir", str(project)]
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", *where]).exit_code == 0
    (project / "target" / "manifest.json").write_text('{"metadata": {"dbt_sch')  # half written
    watched = runner.invoke(
        cli, ["watch", "--no-poll", "--iterations", "2", "--interval", "0", *where]
    )
    assert watched.exit_code == 0, watched.output
    assert watched.stdout.count("manifest.json is not valid JSON") == 2
    assert watched.stdout.count("transfers") == 2
    once = runner.invoke(cli, ["status", "--no-poll", *where])  # a one-shot command says so
    assert once.exit_code == 1 and "manifest.json is not valid JSON" in once.stderr
