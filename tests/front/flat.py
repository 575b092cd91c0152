"""``train_front``'s arguments from the flat keyword names of its older signature
(``method="path", budget=5, path_corrector=...``), mapped as moprune maps the flat keys of
older YAML files (:func:`moprune.front.methods.method_from_config`): the tests written
against the older signature run against the method objects."""

from dataclasses import replace
from typing import Any

from moprune.config import TrainConfig
from moprune.front.methods import method_flags, method_from_config


def new_args(**kw: Any) -> dict[str, Any]:
    flat_keys = {f["key"] for f in method_flags()}
    flat = {k: kw.pop(k) for k in list(kw) if k in flat_keys}
    kw["method"] = method_from_config(kw.pop("method", "dichotomic"), flat=flat)
    train = kw.pop("train_config", None) or TrainConfig()
    if "epochs" in kw:
        train = replace(train, epochs=kw.pop("epochs"))
    kw["train"] = train
    if "out_dir" in kw:
        kw["out"] = kw.pop("out_dir")
    return kw
