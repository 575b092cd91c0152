import json
import os
import signal
import subprocess
import sys
import time

import optuna
import pytest
import torch
from optuna.trial import TrialState
from scipy.stats import kendalltau, spearmanr

from moprune.config import DataConfig, TrainConfig
from moprune.errors import ConfigError
from moprune.hpo import (
    DEFAULT_SPACE,
    HPOJob,
    StudySettings,
    counted,
    fresh_model,
    proxy_source,
    rank_agreement,
    run_hpo,
    uniform_proxy,
)
from moprune.models import build_model, save_model
from moprune.pruning import compact, count_flops

LR_ONLY = {"lr": {"type": "float", "low": 0.01, "high": 0.2, "log": True}}


def _job(root, out, *, space=None, proxy=None, objectives=("accuracy",), epochs=2, **settings):
    settings.setdefault("trials", 4)
    return HPOJob(model="lenet5", data=DataConfig(data_root=str(root), val_fraction=0.2),
                  train=TrainConfig(epochs=epochs, batch_size=64), out=str(out),
                  space=space or DEFAULT_SPACE.to_dict(), settings=StudySettings(**settings),
                  proxy=proxy, objectives=objectives)


def _study(out, name="moprune"):
    from optuna.storages.journal import JournalFileBackend

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(out / "study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


@pytest.mark.parametrize("sampler, pruner", [
    ("tpe", "hyperband"), ("random", "successive-halving"), ("cmaes", "median"),
    ("gp", "none"), ("qmc", "none")])
def test_optuna_samplers_and_pruners_run_a_tiny_study(synthetic_root, tmp_path, sampler, pruner):
    r = run_hpo(_job(synthetic_root, tmp_path, sampler=sampler, pruner=pruner), top_k=2)
    states = [t["state"] for t in r["trials"]]
    assert len(states) == 4 and set(states) <= {"complete", "pruned"}
    assert all(t["seconds"] > 0 for t in r["trials"])
    assert len(r["transfer"]) == 2 and r["best"]["test_acc"] is not None
    assert (tmp_path / "results.json").is_file() and (tmp_path / "hpo.png").is_file()


@pytest.mark.parametrize("sampler, objectives", [
    ("ga", ("accuracy",)), ("de", ("accuracy",)), ("nsga2", ("accuracy", "seconds"))])
def test_pymoo_algorithms_run_through_the_same_trials(synthetic_root, tmp_path, sampler,
                                                      objectives):
    job = _job(synthetic_root, tmp_path, backend="pymoo", sampler=sampler, trials=10,
               objectives=objectives, epochs=1)
    r = run_hpo(job, top_k=1)
    study = _study(tmp_path)
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 10 and len(study.directions) == len(objectives)
    assert sorted(t.user_attrs["eval_index"] for t in done) == list(range(10))
    assert r["counts"]["complete"] == 10


def test_optuna_multi_objective_study(synthetic_root, tmp_path):
    r = run_hpo(_job(synthetic_root, tmp_path, sampler="nsga2",
                     objectives=("accuracy", "params")), top_k=1)
    assert all(len(t["values"]) == 2 for t in r["trials"])


def test_a_diverging_trial_fails_with_its_reason_and_the_study_goes_on(synthetic_root, tmp_path):
    space = {"lr": {"type": "categorical", "choices": [1e6, 0.05]}}
    job = _job(synthetic_root, tmp_path, space=space, sampler="random", trials=6)
    r = run_hpo(job, top_k=1)
    failed = [t for t in r["trials"] if t["state"] == "fail"]
    assert failed and all("training loss became" in t["failure"] for t in failed)
    assert all(t["params"]["lr"] == 1e6 for t in failed)
    assert r["counts"]["complete"] == 6 - len(failed) > 0
    assert r["best"]["params"]["lr"] == 0.05


def test_resume_skips_finished_trials(synthetic_root, tmp_path):
    wall = run_hpo(_job(synthetic_root, tmp_path, trials=3), top_k=1)["time"]["hpo_wall"]
    first = {t.number: t.params for t in _study(tmp_path).trials}
    resumed = run_hpo(_job(synthetic_root, tmp_path, trials=5), top_k=1)["time"]
    assert resumed["hpo_wall"] > wall > 0  # the wall time of both calls
    trials = _study(tmp_path).trials
    assert len(trials) == 5 and all(t.params == first[n] for n, t in enumerate(trials[:3]))
    assert all(t.datetime_start >= trials[2].datetime_complete for t in trials[3:])
    # new trials are new points, not the sampler's first proposals again
    assert trials[3].params not in first.values()


def test_pymoo_resume_reuses_finished_evaluations(synthetic_root, tmp_path):
    job = lambda n: _job(synthetic_root, tmp_path, backend="pymoo", sampler="ga",  # noqa: E731
                         trials=n, space=LR_ONLY, epochs=1)
    run_hpo(job(6), top_k=1)
    before = {t.user_attrs["eval_index"]: (t.number, t.params) for t in _study(tmp_path).trials}
    run_hpo(job(10), top_k=1)
    after = _study(tmp_path).trials
    assert len(after) == 10
    for t in after[:6]:
        assert before[t.user_attrs["eval_index"]] == (t.number, t.params)


def _six_trials_none_lost(trials):
    """Six trials ran to an end (complete, or failed by divergence with its reason); any
    other trial is one a worker asked for as the budget ran out, marked and never run."""
    ended = [t for t in trials if t.state == TrialState.COMPLETE or "failure" in t.user_attrs]
    assert len(ended) == 6 and sum(counted(t) for t in trials) == 6
    assert all(t.user_attrs.get("surplus") and not t.params for t in trials if t not in ended)
    assert len({t.user_attrs["worker"] for t in ended}) == 2  # both worked
    return ended


def test_two_workers_finish_the_study_with_no_trial_lost_or_repeated(synthetic_root, tmp_path):
    run_hpo(_job(synthetic_root, tmp_path, trials=6, workers=2, space=LR_ONLY), top_k=1)
    trials = _study(tmp_path).trials
    done = _six_trials_none_lost(trials)
    assert len({t.params["lr"] for t in done}) == 6


def test_fresh_model_of_a_compacted_proxy_has_its_shape_and_new_weights(tmp_path):
    model = build_model("lenet5", in_channels=1, num_classes=10, image_size=28, seed=0)
    with torch.no_grad():
        model.features[0].weight[:3].zero_()
        model.features[0].bias[:3].fill_(-1.0)  # ReLU(-1) = 0: dead channels
    small, _ = compact(model.eval(), example_inputs=torch.randn(2, 1, 28, 28))
    save_model(small, tmp_path / "proxy.pt")
    from moprune.hpo import architecture

    recipe = architecture(tmp_path / "proxy.pt")
    a = fresh_model(recipe, in_channels=1, num_classes=10, image_size=28, seed=1)
    b = fresh_model(recipe, in_channels=1, num_classes=10, image_size=28, seed=1)
    assert a.features[0].weight.shape == small.features[0].weight.shape == (3, 1, 5, 5)
    assert torch.equal(a.features[0].weight, b.features[0].weight)  # seeded
    assert not torch.equal(a.features[0].weight, small.features[0].weight)  # new weights
    with pytest.raises(ConfigError, match="built for num_classes=10"):
        fresh_model(recipe, in_channels=1, num_classes=5, image_size=28, seed=0)


def test_uniform_proxy_thins_every_layer_alike_to_the_flops_share():
    base = {"model": "vgg", "in_channels": 1, "num_classes": 10, "image_size": 28}
    recipe = uniform_proxy(base, 0.25)
    net = fresh_model(recipe, in_channels=1, num_classes=10, image_size=28, seed=0)
    full = build_model("vgg", in_channels=1, num_classes=10, image_size=28, seed=0)
    x = torch.zeros(1, 1, 28, 28)
    assert 0.23 <= count_flops(net, x) / count_flops(full, x) <= 0.25

    def convs(m):
        return [c.out_channels for c in m.modules() if isinstance(c, torch.nn.Conv2d)]

    shares = [a / b for a, b in zip(convs(net), convs(full), strict=True)]
    assert max(shares) - min(shares) < 0.05  # the same share of every layer (rounding)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[-1].out_features == 10  # the output layer keeps its width
    assert proxy_source("uniform:0.25", base=base)[0] == recipe  # what --proxy uniform:0.25 uses
    with pytest.raises(ConfigError, match="needs the base network"):
        proxy_source("uniform:0.25")


def test_rank_agreement_matches_scipy_on_known_rankings():
    assert rank_agreement([1, 2, 3, 4], [10, 20, 30, 40], top_k=2) == {
        "spearman_rho": pytest.approx(1.0), "kendall_tau": pytest.approx(1.0),
        "top2_overlap": 1.0, "top_k": 2}
    r = rank_agreement([4, 3, 2, 1], [1, 2, 3, 4], top_k=2)
    assert r["spearman_rho"] == pytest.approx(-1) and r["top2_overlap"] == 0.0
    p, b = [0.9, 0.7, 0.8, 0.1, 0.5, 0.5], [0.85, 0.8, 0.6, 0.2, 0.4, 0.7]
    r = rank_agreement(p, b, top_k=3)
    assert r["spearman_rho"] == pytest.approx(spearmanr(p, b).statistic)
    assert r["kendall_tau"] == pytest.approx(kendalltau(p, b).statistic)
    assert r["top3_overlap"] == pytest.approx(2 / 3)  # {0, 2, 1} vs {0, 1, 5}
    assert rank_agreement([0.5, 0.5, 0.5], [1, 2, 3])["spearman_rho"] is None  # no ranking
    with pytest.raises(ConfigError, match="same length"):
        rank_agreement([1, 2], [1, 2, 3])


@pytest.mark.parametrize("settings, message", [
    ({"backend": "keras"}, "backend must be one of"),
    ({"sampler": "ga"}, "optuna backend's samplers"),
    ({"backend": "pymoo", "sampler": "tpe"}, "pymoo backend's samplers"),
    ({"backend": "pymoo", "sampler": "ga", "pruner": "hyperband"}, "use --pruner none"),
    ({"pruner": "patient"}, "pruner must be one of"),
    ({"trials": 0}, "trials must be an integer >= 1"),
    ({"workers": -1}, "workers must be an integer >= 1"),
    ({"grace": -5}, "grace must be an integer >= 1, got -5"),
    ({"storage": "foo://bar"}, "--storage must be a sqlite://"),
])
def test_bad_study_settings(settings, message):
    with pytest.raises(ConfigError, match=message):
        StudySettings(**settings)


def test_single_objective_samplers_refuse_multi_objective_studies(synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="single-objective"):
        run_hpo(_job(synthetic_root, tmp_path, sampler="cmaes",
                     objectives=("accuracy", "seconds")))


def _hpo_cmd(root, out, trials, extra=()):
    return [sys.executable, "-m", "moprune.cli", "hpo", "--model", "lenet5", "--proxy", "none",
            "--data-root", str(root), "--epochs", "3", "--trials", str(trials), "--top-k", "1",
            "--space", str(out.parent / "space.yaml"), "--out", str(out), *extra]


def test_a_worker_killed_mid_trial_is_retried_on_restart(synthetic_root, tmp_path):
    """A real SIGKILL of `moprune hpo` during a trial; the same command then completes the
    study: the killed trial is failed and its parameters run again."""
    (tmp_path / "space.yaml").write_text("lr: {type: float, low: 0.01, high: 0.1, log: true}\n")
    out = tmp_path / "run"
    root = synthetic_root.parent / "big"
    from tests.conftest import write_idx

    write_idx(root, n_train=2500, n_test=100)  # trials long enough to be killed in
    proc = subprocess.Popen(_hpo_cmd(root, out, 3), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    killed_params = None
    while time.time() < deadline and killed_params is None:
        time.sleep(0.3)
        if (out / "study.journal").exists():
            try:
                trials = _study(out).trials
            except KeyError:  # the journal is there, the study's record not yet
                continue
            running = [t for t in trials if t.state == TrialState.RUNNING
                       and "worker" in t.user_attrs and t.number >= 1]
            if running:
                killed_params = running[0].params
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert killed_params is not None, "no trial was seen running"
    done = subprocess.run(_hpo_cmd(root, out, 3), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    trials = _study(out).trials
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
    failed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and failed[0].params == killed_params and not counted(failed[0])
    retry = [t for t in trials if t.user_attrs.get("retry_of") == failed[0].number]
    assert len(retry) == 1 and retry[0].params == killed_params
    assert retry[0].state == TrialState.COMPLETE
    assert failed[0].user_attrs["interrupted"] is True
    rows = json.loads((out / "results.json").read_text())["trials"]
    assert [r["failure"] for r in rows if r["state"] == "fail"] == [
        "interrupted (its worker died)"]
    # the resumed study proposed what an uninterrupted one proposes
    plain = tmp_path / "plain"
    done = subprocess.run(_hpo_cmd(root, plain, 3), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    configs = sorted(t.params["lr"] for t in trials if t.state == TrialState.COMPLETE)
    assert configs == sorted(t.params["lr"] for t in _study(plain).trials)


def test_a_trial_killed_while_drawing_its_parameters_is_not_retried_with_half(tmp_path):
    """A dead worker's trial with 1 of 2 parameters drawn: failed as interrupted, and not
    enqueued again (the next trial draws both afresh, as an uninterrupted study would)."""
    import socket

    from optuna.storages.journal import JournalFileBackend

    from moprune.hpo.recovery import recover_dead_trials

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "s.journal")))
    study = optuna.create_study(storage=storage)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = study.ask()
    trial.suggest_float("lr", 0.01, 0.1, log=True)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    assert recover_dead_trials(study, n_params=2) == 1
    (t,) = study.get_trials()
    assert t.state == TrialState.FAIL and t.user_attrs["interrupted"] is True
    assert not counted(t)
    # a whole draw is retried
    trial = study.ask()
    trial.suggest_float("lr", 0.01, 0.1, log=True)
    trial.suggest_int("batch", 32, 128)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    assert recover_dead_trials(study, n_params=2) == 1
    waiting = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert len(waiting) == 1 and set(waiting[0].system_attrs["fixed_params"]) == {"lr", "batch"}


def _draw(trial):
    return trial.suggest_float("lr", 1e-3, 0.3, log=True), trial.suggest_int("bs", 16, 256)


def _two_seeded_workers(storage):
    """Two workers' studies on ``storage`` with moprune's per-trial seeded TPE, after two
    finished trials of the first."""
    from moprune.hpo.study import TrialSeededSampler, make_sampler

    def worker():
        study = optuna.create_study(study_name="s", storage=storage, load_if_exists=True)
        study.sampler = TrialSeededSampler(lambda seed: make_sampler("tpe", seed=seed), seed=0)
        return study

    a, b = worker(), worker()
    for _ in range(2):
        trial = a.ask()
        _draw(trial)
        a.tell(trial, 0.5)
    return a, b


def test_a_trial_started_between_a_dead_trials_failure_and_its_retry_draws_afresh(tmp_path):
    """Recovery fails a dead worker's trial, then enqueues its retry. A trial that another
    worker starts in between must not take the dead trial's seed: it would draw the very
    configuration the retry then trains again (seen in CI: a configuration trained twice)."""
    import socket

    from optuna.storages.journal import JournalFileBackend

    from moprune.hpo.recovery import recover_dead_trials

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "s.journal")))

    a, b = _two_seeded_workers(storage)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    trial = a.ask()
    killed = _draw(trial)
    trial.set_user_attr("worker", f"{socket.gethostname()}:{dead.pid}")
    between = []
    enqueue = a.enqueue_trial

    def b_starts_a_trial_first(*args, **kwargs):
        trial = b.ask()
        between.append(_draw(trial))
        b.tell(trial, 0.4)
        return enqueue(*args, **kwargs)

    a.enqueue_trial = b_starts_a_trial_first
    assert recover_dead_trials(a, n_params=2) == 1
    assert between and between[0] != killed
    (retry,) = [t for t in a.get_trials() if t.user_attrs.get("retry_of") == 2]
    assert retry.state == TrialState.WAITING
    assert retry.system_attrs["fixed_params"] == dict(zip(("lr", "bs"), killed, strict=True))


def test_a_retry_that_a_killed_recovering_worker_did_not_write_is_written_once(tmp_path):
    """A worker killed between failing a dead trial and enqueuing its retry: the next
    recovery enqueues the retry, and only once."""
    from optuna.storages.journal import JournalFileBackend

    from moprune.hpo.recovery import recover_dead_trials

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "s.journal")))
    study = optuna.create_study(storage=storage)
    trial = study.ask()
    params = {"lr": trial.suggest_float("lr", 0.01, 0.1, log=True)}
    trial.set_user_attr("interrupted", True)
    trial.set_user_attr("retry", True)
    study.tell(trial, state=TrialState.FAIL)  # ... and the recovering worker died here
    assert recover_dead_trials(study, n_params=1) == 1
    assert recover_dead_trials(study, n_params=1) == 0
    (retry,) = [t for t in study.get_trials() if t.state == TrialState.WAITING]
    assert retry.system_attrs["fixed_params"] == params and retry.user_attrs["retry_of"] == 0


def test_recovery_waits_for_a_recovering_worker_and_goes_on_when_it_is_killed(tmp_path):
    """One worker recovers at a time: recovery waits while another process holds the
    lock beside the journal, and goes on as soon as that process is SIGKILLed."""
    import threading

    from optuna.storages.journal import JournalFileBackend

    from moprune.hpo.recovery import recover_dead_trials

    journal = tmp_path / "s.journal"
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.create_study(storage=storage)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
         f"f = open({str(journal) + '.recover.lock'!r}, 'a')\n"
         "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    done = threading.Event()
    worker = threading.Thread(target=lambda: (recover_dead_trials(study), done.set()))
    worker.start()
    assert not done.wait(1.0), "recovery did not wait for the lock's holder"
    holder.kill()
    holder.wait()
    assert done.wait(30), "recovery still waits after the holder was killed"
    worker.join()


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.filterwarnings("ignore:Heartbeat of storage is supposed to be used")
def test_a_trial_started_before_optunas_heartbeat_retry_is_written_draws_afresh(tmp_path):
    """The same race on RDB storage (SQLite here, as PostgreSQL): Optuna fails a stale
    trial, then its callback enqueues the retry; a trial another worker starts in between
    draws other parameters than the stale one."""
    between = []

    class StartsATrialFirst(optuna.storages.RetryHeartbeatStaleTrialCallback):
        def __call__(self, study, trial):
            other = b.ask()
            between.append(_draw(other))
            b.tell(other, 0.4)
            super().__call__(study, trial)

    storage = optuna.storages.RDBStorage(
        f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=1,
        heartbeat_stale_trial_callback=StartsATrialFirst(max_retry=3))

    a, b = _two_seeded_workers(storage)
    trial = a.ask()
    stale = _draw(trial)
    storage.record_heartbeat(trial._trial_id)
    time.sleep(2.0)  # past the grace period: the trial's worker is taken for dead
    optuna.storages.fail_stale_trials(a)
    assert between and between[0] != stale
    (retry,) = [t for t in a.get_trials() if t.state == TrialState.WAITING]
    assert retry.system_attrs["retry_history"] == [2]


def test_awaiting_retry_counts_stale_trials_until_optunas_heartbeat_enqueues_them():
    """RDB storage: Optuna fails a stale trial, then its callback enqueues the retry
    (``retry_history``); up to the retry limit, the failed trial keeps its place."""
    from optuna.distributions import FloatDistribution

    from moprune.hpo.recovery import awaiting_retry
    from moprune.hpo.storage import _MAX_RETRY

    study = optuna.create_study()  # in memory: not a journal, so the heartbeat's rules
    dist = {"lr": FloatDistribution(0.01, 0.1)}

    def add(state, number_attrs=None, **user_attrs):
        study.add_trial(optuna.trial.create_trial(
            state=state, params={"lr": 0.05}, distributions=dist, user_attrs=user_attrs,
            system_attrs=number_attrs or {}, value=None if state != TrialState.COMPLETE
            else 0.5))

    add(TrialState.FAIL)  # 0: stale, its retry not yet written
    add(TrialState.FAIL, failure="diverged")  # 1: training failed; counted, not retried
    add(TrialState.FAIL, {"retry_history": list(range(_MAX_RETRY))})  # 2: retries spent
    trials = study.get_trials()
    assert [awaiting_retry(study, trials, n) for n in (0, 1, 3)] == [0, 1, 1]
    add(TrialState.WAITING, {"failed_trial": 0, "retry_history": [0]})  # 3: 0's retry
    trials = study.get_trials()
    assert awaiting_retry(study, trials, 3) == 1  # the retry is not below trial 3
    assert awaiting_retry(study, trials, 4) == 0


@pytest.fixture
def postgres_url():
    url = os.environ.get("MOPRUNE_TEST_POSTGRES")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("CI runs the PostgreSQL test: .ci/run sets MOPRUNE_TEST_POSTGRES")
        pytest.skip("no MOPRUNE_TEST_POSTGRES (start one with scripts/postgres.sh start DIR)")
    return url


def test_two_workers_on_postgresql(synthetic_root, tmp_path, postgres_url):
    name = f"test-{os.getpid()}-{time.time_ns()}"
    run_hpo(_job(synthetic_root, tmp_path, trials=6, workers=2, space=LR_ONLY,
                 storage=postgres_url, study=name), top_k=1)
    study = optuna.load_study(study_name=name, storage=postgres_url)
    _six_trials_none_lost(study.trials)
    assert not (tmp_path / "study.journal").exists()


def test_bad_storage_url_is_one_clear_error(synthetic_root, tmp_path):
    with pytest.raises(ConfigError, match="must be a sqlite://, postgresql://"):
        run_hpo(_job(synthetic_root, tmp_path, storage="redis://localhost"))


@pytest.mark.slow
def test_two_workers_one_killed_every_few_seconds(synthetic_root, tmp_path):
    """Faults under load (benchmarks/hpo_faults.py): worker B is SIGKILLed 1-3 s after its
    start, never before it holds a trial, and restarted beside worker A (before A starts,
    it is killed twice alone in its first trial, so a fast machine cannot finish the study
    unhit); the study ends with exactly its trials counted, nothing lost and no
    configuration trained twice."""
    from benchmarks.hpo_faults import run_faults
    from tests.conftest import write_idx

    root = write_idx(tmp_path / "big", n_train=2500, n_test=100)  # trials of about a second
    counts = run_faults(tmp_path / "run", trials=10, kill_every=2.0, data_root=str(root),
                        limit_train=2000, epochs=4, kills_alone=2)
    assert counts["kills"] >= 2 and counts["interrupted"] >= 2, counts
    assert counts["ok"], counts
    assert counts["counted"] == 10 and counts["still_running_or_waiting"] == 0


def test_hpo_of_a_users_module_starts_every_trial_afresh(synthetic_root, tmp_path):
    from dataclasses import replace

    from moprune.hpo.objective import fresh_model

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 32),
                                 torch.nn.ReLU(), torch.nn.Linear(32, 10))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    shape = {"in_channels": 1, "num_classes": 10, "image_size": 28}
    a = fresh_model({"model": module}, seed=3, **shape)
    b = fresh_model({"model": module}, seed=3, **shape)
    c = fresh_model({"model": module}, seed=4, **shape)
    assert a is not module and b is not a
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a[1].weight, c[1].weight)  # another seed, other weights
    assert not torch.equal(a[1].weight, module[1].weight)  # drawn afresh, not copied
    job = replace(_job(synthetic_root, tmp_path / "run", epochs=1, trials=3), model=module)
    results = run_hpo(job, top_k=1)
    assert results["model"] == "Sequential" and results["counts"]["complete"] == 3
    assert json.loads((tmp_path / "run" / "results.json").read_text())["best"]
    # the user's module was never trained
    assert all(torch.equal(v, before[k]) for k, v in module.state_dict().items())


def _worker_pids(out):
    """The pids of the workers holding a RUNNING trial in ``out``'s journal."""
    try:
        trials = _study(out).get_trials(deepcopy=False)
    except (KeyError, ValueError):  # no study record yet, or a line half written
        return set()
    return {int(str(t.user_attrs["worker"]).rpartition(":")[2]) for t in trials
            if t.state == TrialState.RUNNING and "worker" in t.user_attrs}


def _zombie_or_alive(pid):
    """Whether ``pid`` still has a process table entry (alive, or a zombie not reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0]  # the state letter: Z for a zombie
    except FileNotFoundError:
        return None


@pytest.mark.parametrize("kill", ["second", "both"])
def test_a_killed_worker_is_reaped_and_the_study_still_finishes(synthetic_root, tmp_path,
                                                                kill):
    """`moprune hpo --workers 2` with its workers SIGKILLed mid-trial: the parent reaps
    each at once (no zombie the survivor's recovery would take for alive), names it in one
    line, the dead trial is retried, the parent finishes what is left when no worker is
    left, and the command exits 0 with results.json and the transfer written."""
    from benchmarks.hpo_faults import check_study
    from tests.conftest import write_idx

    (tmp_path / "space.yaml").write_text("lr: {type: float, low: 0.01, high: 0.1, log: true}\n")
    out = tmp_path / "run"
    root = write_idx(synthetic_root.parent / "big", n_train=2500, n_test=100)
    proc = subprocess.Popen(_hpo_cmd(root, out, 6, ["--workers", "2"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline, pids = time.time() + 120, set()
    while time.time() < deadline and len(pids) < 2 and proc.poll() is None:
        time.sleep(0.2)
        pids |= _worker_pids(out) if (out / "study.journal").exists() else set()
    assert len(pids) == 2, f"both workers were not seen in a trial: {pids}"
    victims = sorted(pids)[1:] if kill == "second" else sorted(pids)
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    time.sleep(3.0)  # the parent polls every 0.5 s
    assert all(_zombie_or_alive(pid) is None for pid in victims), "a killed worker not reaped"
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    for pid in victims:
        assert f"(pid {pid}) was killed by SIGKILL; the study goes on without it" in err
    assert "Traceback" not in err
    counts = check_study(out, 6)
    assert counts["ok"], counts
    assert counts["interrupted"] == len(victims) and counts["retried"] == len(victims)
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["complete"] == 6 and results["best"]["test_acc"] is not None
