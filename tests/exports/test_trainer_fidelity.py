"""Exports that today's trainers read as meant (issue 13): nothing lost or mistrained silently."""

from __future__ import annotations

import zipfile

import orjson
import pytest
import yaml
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from reflectlab.exports import services
from reflectlab.exports.chat_templates import CHATML_KEEP, DEEPSEEK_R1, template_render
from tests.exports.factories import HINT, AnnotationFactory, corrected_annotation
from tests.exports.helpers import export_rows
from tests.factories import TraceFactory

ONE_SPLIT = {"splits": {"train": 1.0}}


def _bundle(export):
    with zipfile.ZipFile(export.path) as zf:
        names = set(zf.namelist())
        read = {n: zf.read(n) for n in names}
    return read


def _front(readme: bytes) -> dict:
    return yaml.safe_load(readme.decode().split("---")[1])


def test_branch_rows_name_the_branchs_model_not_the_parents(project, run_export):
    a = corrected_annotation(project)
    a.branch.model_name = "other-model"
    a.branch.save(update_fields=["model_name"])
    row = export_rows(run_export("sft_corrected"))[0]
    assert row["meta_model"] == "other-model"
    assert orjson.loads(row["meta_json"])["parent_model"] == a.trace.model_name
    rows = export_rows(run_export("unpaired"))
    by_source = {orjson.loads(r["meta_json"])["source"]: r["meta_model"] for r in rows}
    assert by_source == {"trace": a.trace.model_name, "branch": "other-model"}


def test_an_empty_export_says_why_in_manifest_ui_and_api(project, run_export, client, user):
    export = run_export("all", "bundle", options=ONE_SPLIT)
    assert export.state == "succeeded" and export.is_empty
    assert "0 accepted annotations match the filters." in export.notes
    manifest = orjson.loads(_bundle(export)["manifest.json"])
    assert manifest["empty"]["sft_corrected"] == "0 accepted annotations match the filters."

    wrong = corrected_annotation(project)
    wrong.branch.final_correct = False
    wrong.branch.save(update_fields=["final_correct"])
    export = run_export("sft_corrected")
    assert export.is_empty
    (note,) = export.notes
    assert "1 have a branch not graded right" in note

    client.force_login(user)
    page = client.get(f"/projects/{project.pk}/exports/{export.pk}/")
    assert "not graded right" in page.content.decode()
    api = client.get(f"/api/v1/exports/{export.pk}/").json()
    assert api["notes"] == export.notes


def test_an_empty_bundle_card_lists_every_config_so_manifest_is_never_data(project, run_export):
    files = _bundle(run_export("all", "bundle"))
    front = _front(files["README.md"])
    configs = {c["config_name"]: c for c in front["configs"]}
    assert {"sft_corrected", "preference", "unpaired", "stepwise", "canonical"} <= set(configs)
    for config in configs.values():
        assert sorted(d["split"] for d in config["data_files"]) == ["test", "train"]
        for d in config["data_files"]:
            assert d["path"] in files and d["path"].endswith(".parquet")
    # Explicit features: a split whose values are all null still loads with its real types.
    features = {i["config_name"]: i["features"] for i in front["dataset_info"]}
    stepwise = {f["name"]: f for f in features["stepwise"]}
    assert stepwise["labels"] == {"name": "labels", "list": "bool"}
    assert {f["name"]: f for f in features["canonical"]}["record"]["dtype"] == "string"


def test_length_stats_per_config_in_manifest_and_card(project, run_export, settings, tmp_path):
    corrected_annotation(project)
    folder = tmp_path / "tok" / "tiny"
    folder.mkdir(parents=True)
    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        ["We need 2 + 3. So the answer is 5."] * 20,
        trainers.BpeTrainer(vocab_size=100, special_tokens=["[UNK]"]),
    )
    tok.save(str(folder / "tokenizer.json"))
    settings.REFLECTLAB_TOKENIZERS_DIR = tmp_path / "tok"
    export = run_export("all", "bundle", options={**ONE_SPLIT, "tokenizer": "tiny"})
    files = _bundle(export)
    lengths = orjson.loads(files["manifest.json"])["lengths"]
    critique = lengths["critique"]
    assert critique["rows"] == 1
    # The critique prompt holds the whole trace: longer than the critique itself.
    assert critique["chars"]["min"] > len("Step 2 adds wrongly: 2 + 3 is 5.")
    assert set(critique["chars"]) == {"min", "median", "p95", "max"}
    assert 0 < critique["tokens"]["max"] < critique["chars"]["max"]
    assert "| `critique` |" in files["README.md"].decode()
    with pytest.raises(ValueError, match="Unknown tokenizer"):
        services.export_normalize(
            kind="all", format="bundle", filters={}, options={"tokenizer": "../../etc"}
        )


def test_a_deepseek_r1_training_template_is_caught_and_a_keeping_one_shipped(project, run_export):
    corrected_annotation(project)
    row = export_rows(run_export("sft_corrected"))[0]
    # The fault: DeepSeek-R1's template renders our row without the thinking and the hint.
    assert HINT not in template_render(DEEPSEEK_R1, row["messages"], bos_token="")
    export = run_export("all", "bundle", options={**ONE_SPLIT, "training_template": "deepseek_r1"})
    assert any("drops the reasoning" in n for n in export.notes)
    files = _bundle(export)
    assert "drops the reasoning" in files["README.md"].decode()
    keep = files["templates/chat_template_keep_reasoning.jinja"].decode()
    rendered = template_render(keep, row["messages"], bos_token="")
    assert HINT in rendered and "<｜Assistant｜>" in rendered  # noqa: RUF001
    ok = run_export("all", "bundle", options={**ONE_SPLIT, "training_template": "chatml"})
    assert not any("drops the reasoning" in n for n in ok.notes)
    assert HINT in template_render(CHATML_KEEP, row["messages"])


def test_a_tokenizers_own_deepseek_template_is_probed(project, run_export, settings, tmp_path):
    corrected_annotation(project)
    folder = tmp_path / "tok" / "r1-distill"
    folder.mkdir(parents=True)
    Tokenizer(models.BPE()).save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(
        orjson.dumps({"chat_template": DEEPSEEK_R1}).decode()
    )
    settings.REFLECTLAB_TOKENIZERS_DIR = tmp_path / "tok"
    export = run_export("sft_corrected", options={"tokenizer": "r1-distill"})
    assert any("of tokenizer 'r1-distill' drops the reasoning" in n for n in export.notes)


def test_user_turn_never_trains_on_the_original_wrong_answer(project, run_export):
    corrected_annotation(project)
    with pytest.raises(ValueError, match="assistant_only_loss"):
        services.export_normalize(
            kind="sft_corrected",
            format="jsonl",
            filters={},
            options={"hint_mode": "user_turn", "variant": "sft_corrected"},
        )
    export = run_export("all", "bundle", options={**ONE_SPLIT, "hint_mode": "user_turn"})
    files = _bundle(export)
    assert not jsonl_rows_of(files, "jsonl/sft_corrected/train.jsonl")
    (row,) = jsonl_rows_of(files, "jsonl/sft_corrected_prompt_completion/train.jsonl")
    assert "\\boxed{6}" in row["prompt"][1]["content"]  # the wrong answer: prompt, no loss
    assert all("\\boxed{6}" not in m["content"] for m in row["completion"])


def jsonl_rows_of(files, name):
    return [orjson.loads(line) for line in files[name].splitlines() if line]


def test_bundle_registers_llamafactory_datasets_in_their_shapes(project, run_export):
    corrected_annotation(project)
    AnnotationFactory(
        trace=TraceFactory(project=project), project=project, first_error_step=-1, verdict="correct"
    )
    files = _bundle(run_export("all", "bundle", options=ONE_SPLIT))
    info = orjson.loads(files["llamafactory/dataset_info.json"])
    pref = info["preference_train"]
    assert pref["ranking"] is True and pref["formatting"] == "sharegpt"
    assert pref["columns"] == {"messages": "messages", "chosen": "chosen", "rejected": "rejected"}
    assert info["unpaired_train"]["columns"]["kto_tag"] == "kto_tag"
    assert info["sft_corrected_train"]["tags"]["role_tag"] == "role"
    for entry in info.values():
        assert f"llamafactory/{entry['file_name']}" in files
    (pair,) = jsonl_rows_of(files, "llamafactory/" + pref["file_name"])
    assert pair["chosen"]["role"] == "assistant" and "\\boxed{5}" in pair["chosen"]["content"]
    assert isinstance(pair["rejected"], dict)
    kto = jsonl_rows_of(files, "llamafactory/" + info["unpaired_train"]["file_name"])
    assert {type(r["kto_tag"]) for r in kto} == {bool}
    assert all(r["messages"][-1]["role"] == "assistant" for r in kto)
