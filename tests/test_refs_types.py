"""Every locally testable ref type, end to end through the real CLI and real backends:
write -> compile -> tags in output -> reveal -> rotate -> reveal.

gpg runs the real gpg on a temporary keyring, age uses generated identities,
awskms talks to moto's KMS server on 127.0.0.1. gkms, azkms and the vault types
have no local server here: their ref files compile to tags offline (see
test_refs_compat.py), and vault errors are checked against a closed local port.
"""

from pathlib import Path

import pytest
import yaml
from conftest import COMMON_CLASS, kcompile, write_tree

SECRET = "correct horse battery staple"


def _project(root: Path, tag: str, extra_params: str = "") -> Path:
    return write_tree(root, {
        "inventory/classes/common.yml": COMMON_CLASS + "    compile:\n"
        "      - {input_type: jinja2, input_paths: [templates/secret.yml], output_path: .}\n",
        "inventory/targets/app.yml": f"classes: [common]\nparameters:\n  secret: {tag}\n"
                                     + extra_params,
        "templates/secret.yml": "kind: Secret\nstringData:\n  value: {{ inventory.parameters.secret }}\n",
    })


def _round_trip(root: Path, token: str, write_args: list[str], env: dict,
                rotate_args: list[str] | None, reveal_args: tuple = (),
                after_rotate_env: dict | None = None) -> None:
    type_name, path = token.split(":")
    run = kcompile("refs", "write", token, "-f", "-", *write_args, cwd=root, env=env,
                   stdin=SECRET)
    assert run.code == 0, run.err
    stored = yaml.safe_load((root / "refs" / path).read_text())
    assert stored["type"] == type_name
    if type_name not in ("plain", "env"):
        assert SECRET not in (root / "refs" / path).read_text()

    run = kcompile(cwd=root, env=env)
    assert run.code == 0, run.err
    out = (root / "compiled/app/secret.yml").read_text()
    if type_name == "plain":
        assert f"value: {SECRET}" in out  # Kapitan substitutes plain refs
    else:
        assert SECRET not in out
        assert f"value: ?{{{type_name}:{path}:" in out

    run = kcompile("refs", "reveal", "-f", "compiled/app/secret.yml", *reveal_args, cwd=root,
                   env=env)
    assert run.code == 0, run.err
    assert yaml.safe_load(run.out)["stringData"]["value"] == SECRET

    if rotate_args is None:
        return
    before = (root / "refs" / path).read_text()
    run = kcompile("refs", "rotate", token, *rotate_args, *reveal_args, cwd=root, env=env)
    assert run.code == 0, run.err
    assert "1 rotated" in run.err
    assert (root / "refs" / path).read_text() != before
    env2 = {**env, **(after_rotate_env or {})}
    # the compiled tag's hash is stale now: reveal says so instead of revealing
    run = kcompile("refs", "reveal", "-f", "compiled/app/secret.yml", cwd=root, env=env2)
    assert run.code == 2 and "does not match the stored ref" in run.err
    assert kcompile(cwd=root, env=env2).code == 0
    run = kcompile("refs", "reveal", "--ref-file", f"refs/{path}", cwd=root, env=env2)
    assert run.code == 0, run.err
    assert run.out == SECRET
    run = kcompile("--reveal", "--output-path", "out", cwd=root, env=env2)
    assert run.code == 0, run.err
    assert f"value: {SECRET}" in (root / "out/compiled/app/secret.yml").read_text()


@pytest.mark.parametrize("type_name", ["plain", "base64", "env"])
def test_unencrypted_types(tmp_path, type_name):
    root = _project(tmp_path / "p", f"?{{{type_name}:app/s}}")
    _round_trip(root, f"{type_name}:app/s", [], {}, None)
    run = kcompile("refs", "rotate", f"{type_name}:app/s", "--recipient", "x", cwd=root)
    assert run.code == 2 and "not encrypted" in run.err


def test_env_ref_reads_the_environment(tmp_path):
    root = _project(tmp_path / "p", "?{env:app/dbpass}")
    assert kcompile("refs", "write", "env:app/dbpass", "-f", "-", cwd=root, stdin="default").code == 0
    assert kcompile(cwd=root).code == 0
    reveal = ("refs", "reveal", "-f", "compiled/app/secret.yml")
    assert "value: default" in kcompile(*reveal, cwd=root).out
    assert "value: kap" in kcompile(*reveal, cwd=root, env={"KAPITAN_VAR_dbpass": "kap"}).out
    ours = kcompile(*reveal, cwd=root, env={"KAPITAN_VAR_dbpass": "kap", "KCOMPILE_VAR_DBPASS": "ours"})
    assert "value: ours" in ours.out


def test_gpg_round_trip_and_rotation(tmp_path, gpg_keys):
    root = _project(tmp_path / "p", "?{gpg:app/s}")
    _round_trip(root, "gpg:app/s", ["--recipient", "alice@example.com"], gpg_keys.env,
                ["--recipient", gpg_keys.bob])
    stored = yaml.safe_load((root / "refs/app/s").read_text())
    assert stored["recipients"] == [{"fingerprint": gpg_keys.bob}]
    # rotating to the same recipients again changes nothing
    run = kcompile("refs", "rotate", "gpg:app/s", "--recipient", "bob@example.com", cwd=root,
                   env=gpg_keys.env)
    assert run.code == 0 and "0 rotated, 1 unchanged" in run.err


def test_gpg_recipients_from_the_target_and_rotate_all(tmp_path, gpg_keys):
    secrets = ("  kapitan:\n    secrets:\n      gpg:\n        recipients:\n"
               "          - name: alice@example.com\n")
    root = _project(tmp_path / "p", "?{gpg:targets/app/s}", secrets)
    # -t before the ref: Kapitan's "-t a b" expansion must not swallow it
    run = kcompile("refs", "write", "-t", "app", "gpg:targets/app/s", "-f", "-", cwd=root,
                   env=gpg_keys.env, stdin=SECRET)
    assert run.code == 0, run.err
    stored = yaml.safe_load((root / "refs/targets/app/s").read_text())
    assert stored["recipients"] == [{"fingerprint": gpg_keys.alice}]
    # the inventory now names bob: --all re-encrypts each ref for its target's recipients
    target = root / "inventory/targets/app.yml"
    target.write_text(target.read_text().replace("alice@example.com", "bob@example.com"))
    run = kcompile("refs", "rotate", "--all", cwd=root, env=gpg_keys.env)
    assert run.code == 0, run.err
    stored = yaml.safe_load((root / "refs/targets/app/s").read_text())
    assert stored["recipients"] == [{"fingerprint": gpg_keys.bob}]
    run = kcompile("refs", "reveal", "--tag", "?{gpg:targets/app/s}", cwd=root, env=gpg_keys.env)
    assert run.out == SECRET


def test_gpg_function_refs_use_the_targets_recipients(tmp_path, gpg_keys):
    secrets = ("  kapitan:\n    secrets:\n      gpg:\n        recipients:\n"
               f"          - fingerprint: {gpg_keys.bob}\n")
    root = _project(tmp_path / "p", "?{gpg:targets/app/pw||random:str:24}", secrets)
    run = kcompile(cwd=root, env=gpg_keys.env)
    assert run.code == 0, run.err
    stored = yaml.safe_load((root / "refs/targets/app/pw").read_text())
    assert stored["type"] == "gpg" and stored["recipients"] == [{"fingerprint": gpg_keys.bob}]
    run = kcompile("refs", "reveal", "--ref-file", "refs/targets/app/pw", cwd=root,
                   env=gpg_keys.env)
    assert len(run.out) == 24


def test_gpg_without_recipients_is_an_error(tmp_path, gpg_keys):
    root = _project(tmp_path / "p", "?{gpg:app/pw||random}")
    run = kcompile(cwd=root, env=gpg_keys.env)
    assert run.code == 2
    assert "inventory/targets/app.yml:3: app: ref gpg:app/pw does not exist and can't be " \
           "created: no gpg recipients" in run.err


def test_age_round_trip_and_rotation(tmp_path, age_keys):
    one, two = age_keys
    root = _project(tmp_path / "p", "?{age:app/s}")
    _round_trip(root, "age:app/s", ["--recipient", one.recipient],
                {"KCOMPILE_AGE_IDENTITY_FILE": str(one.identity_file)},
                ["--recipient", two.recipient],
                after_rotate_env={"KCOMPILE_AGE_IDENTITY_FILE": str(two.identity_file)})
    # after rotation the old identity can no longer decrypt it
    run = kcompile("refs", "reveal", "--ref-file", "refs/app/s", "--identity",
                   str(one.identity_file), cwd=root)
    assert run.code == 2 and "cannot decrypt with the given identities" in run.err


def test_age_needs_an_identity_only_to_reveal(tmp_path, age_keys):
    one, _ = age_keys
    secrets = f"  kapitan:\n    secrets:\n      age:\n        recipients: [{one.recipient}]\n"
    root = _project(tmp_path / "p", "?{age:app/s||random:str:20}", secrets)
    run = kcompile(cwd=root)  # creates the ref, encrypted to the target's recipient
    assert run.code == 0, run.err
    run = kcompile("--reveal", "--output-path", "out", cwd=root)
    assert run.code == 2
    assert "inventory/targets/app.yml:3: app: age refs need an identity" in run.err
    run = kcompile("--reveal", "--output-path", "out", "--identity", str(one.identity_file),
                   cwd=root)
    assert run.code == 0, run.err


def test_awskms_round_trip_and_rotation(tmp_path, local_kms):
    root = _project(tmp_path / "p", "?{awskms:app/s}")
    _round_trip(root, "awskms:app/s", ["--key", local_kms.key1], local_kms.env,
                ["--key", local_kms.key2])
    assert yaml.safe_load((root / "refs/app/s").read_text())["key"] == local_kms.key2


def test_awskms_errors_are_one_line(tmp_path, local_kms):
    root = _project(tmp_path / "p", "?{awskms:app/s}")
    run = kcompile("refs", "write", "awskms:app/s", "-f", "-", "--key", "no-such-key",
                   cwd=root, env=local_kms.env, stdin="x")
    assert run.code == 2 and "Traceback" not in run.err
    assert "awskms: encrypt with key no-such-key failed: NotFoundException" in run.err
    kcompile("refs", "write", "awskms:app/s", "-f", "-", "--key", local_kms.key1, cwd=root,
             env=local_kms.env, stdin="x")
    env = {**local_kms.env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    run = kcompile("--reveal", cwd=root, env=env)
    assert run.code == 2 and "Traceback" not in run.err
    assert "app: ref awskms:app/s: cannot decrypt: EndpointConnectionError" in run.err


def test_vault_errors_are_located_and_clean(tmp_path):
    root = _project(tmp_path / "p", "?{vaulttransit:app/s}")
    ref = {"data": "dmF1bHQ6djE6eHl6", "encoding": "original", "type": "vaulttransit",
           "vault_params": {"addr": "http://127.0.0.1:9", "auth": "token", "crypto_key": "k",
                            "engine": "transit", "mount": "transit", "skip_verify": True}}
    (root / "refs/app").mkdir(parents=True)
    (root / "refs/app/s").write_text(yaml.safe_dump(ref))
    assert kcompile(cwd=root).code == 0  # tags compile without vault
    run = kcompile("--reveal", cwd=root, env={"VAULT_TOKEN": "t"})
    assert run.code == 2 and "Traceback" not in run.err
    assert "inventory/targets/app.yml:3: app: ref vaulttransit:app/s" in run.err
    assert "cannot reach vault at http://127.0.0.1:9" in run.err
