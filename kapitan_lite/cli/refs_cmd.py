"""``kcompile refs write|reveal|rotate|migrate``: manage secret refs in refs/ (Kapitan's format)."""

from __future__ import annotations

import base64
import os
import sys
from typing import Any

import click

from ..errors import Problem, UserError
from .options import (
    DEBUG,
    IDENTITY,
    INVENTORY,
    REFS_PATH,
    VERBOSE,
    apply_options,
    merge_opts,
    run_action,
    settings_from,
)

RECIPIENT = click.option("--recipient", "-R", "recipients", multiple=True,
                         help="gpg recipient (name, e-mail, fingerprint) or age1... key; repeatable.")
KEY = click.option("--key", "-K", default=None,
                   help="KMS key id (awskms, gkms, azkms) or vault transit key name.")
TARGET = click.option("-t", "--target", "target", default=None,
                      help="Take recipients or key from this target's parameters.kapitan.secrets.")


def _split_token(token: str) -> tuple[str, str]:
    from ..refs.backends import TYPES

    if token.count(":") != 1:
        raise UserError.of(f"{token}: refs are named TYPE:PATH, e.g. gpg:targets/prod/db")
    type_name, path = token.split(":")
    if type_name not in TYPES:
        raise UserError.of(f"{token}: unknown ref type {type_name!r} "
                           f"(one of {', '.join(sorted(TYPES))})")
    if not path:
        raise UserError.of(f"{token}: the ref path is empty")
    return type_name, path


def _target_secrets(settings: Any, target: str) -> Any:
    from ..inventory import Inventory

    inv = Inventory(settings.inventory_path, settings.backend, settings.compose_target_name,
                    settings.class_wildcards)
    secrets = inv.get(target)["parameters"]["kapitan"].get("secrets")
    if not secrets:
        raise UserError.of(f"parameters.kapitan.secrets is not set in target {target}",
                           path=inv.targets[target].path)
    return secrets


def _read_input(file_name: str, binary: bool) -> bytes:
    """The value to store: a file or stdin, read as text (as Kapitan does) unless ``binary``."""
    if file_name == "-":
        return sys.stdin.buffer.read() if binary else sys.stdin.read().encode()
    try:
        if binary:
            with open(file_name, "rb") as fp:
                return fp.read()
        with open(file_name, encoding="utf-8") as fp:
            return fp.read().encode()
    except UnicodeDecodeError:
        raise UserError.of("not UTF-8 text: use --binary (with --base64 for plain refs)",
                           path=file_name) from None
    except OSError as exc:
        raise UserError.of(f"cannot read: {exc.strerror}", path=file_name) from None


def _ref_problems(exc: Exception, default_path: str = "") -> UserError:
    """A :class:`UserError` with one problem per ref error, located when known."""
    errors = getattr(exc, "errors", [exc])
    problems = []
    for err in errors:
        path, line = getattr(err, "location", None) or (default_path, 0)
        problems.append(Problem(path, line, "", str(err)))
    return UserError(problems)


@click.group("refs")
@click.pass_context
def refs_cmd(ctx: click.Context) -> None:
    """Write, reveal and rotate secret refs in refs/."""
    ctx.obj = dict(ctx.obj or {})


@refs_cmd.command("write")
@click.argument("token")
@click.option("-f", "--file", "file_name", required=True, help="File with the value, or - for stdin.")
@click.option("--base64", "encode_base64", is_flag=True,
              help="Store the value base64-encoded (encoding: base64).")
@click.option("--binary", is_flag=True, help="Read the file as bytes.")
@RECIPIENT
@KEY
@TARGET
@click.option("--vault-auth", default=None, help="vault auth method (token, userpass, ...).")
@click.option("--vault-mount", default=None, help="vaultkv mount [secret].")
@click.option("--vault-path", default=None, help="vaultkv path in vault [the ref path].")
@click.option("--vault-key", default=None, help="vaultkv key in the secret.")
@apply_options(REFS_PATH)
@apply_options(INVENTORY)
@apply_options(DEBUG)
@click.pass_context
def write_cmd(ctx: click.Context, token: str, file_name: str, encode_base64: bool, binary: bool,
              recipients: tuple[str, ...], key: str | None, target: str | None,
              vault_auth: str | None, vault_mount: str | None, vault_path: str | None,
              vault_key: str | None, **local: Any) -> None:
    """Write ref TYPE:PATH (under refs/) from a file or stdin."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..refs.backends import Backends, RefParams
        from ..refs.store import RefError, RefStore

        payload = _read_input(file_name, binary)  # before settings_from moves to the root
        settings = settings_from(opts, "refs")
        type_name, path = _split_token(token)
        encoding = "original"
        if encode_base64:
            payload, encoding = base64.b64encode(payload), "base64"
        params = RefParams(
            recipients=recipients, key=key, target=target or "",
            secrets=_target_secrets(settings, target) if target else None,
            vault={k: v for k, v in (("auth", vault_auth), ("mount", vault_mount),
                                     ("path", vault_path or path), ("key", vault_key)) if v},
        )
        store = RefStore(settings.refs_path)
        try:
            fields = Backends().get(type_name).encrypt(payload, encoding, params)
            ref = store.write(path, fields)
        except RefError as exc:
            raise UserError.of(str(exc), path=os.path.join(settings.refs_path, path)) from None
        click.echo(f"Wrote {os.path.join(settings.refs_path, path)}: "
                   f"?{{{type_name}:{path}:{ref.hash[:8]}}}", err=True)
        return 0

    run_action(opts, action, writes_compiled=False)


@refs_cmd.command("reveal")
@click.option("--ref-file", default=None, help="Print the value of this ref file.")
@click.option("-f", "--file", "file_name", default=None,
              help="Print this file (or directory, or - for stdin) with its tags revealed.")
@click.option("--tag", default=None, help="Print this string with its tags revealed.")
@apply_options(IDENTITY)
@apply_options(REFS_PATH)
@apply_options(DEBUG)
@click.pass_context
def reveal_cmd(ctx: click.Context, ref_file: str | None, file_name: str | None, tag: str | None,
               identities: tuple[str, ...], **local: Any) -> None:
    """Print plaintext: of a ref file, of the tags in files, or of a tag string."""
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..refs.backends import Backends
        from ..refs.reveal import Revealer
        from ..refs.store import RefError, RefStore, load_ref_file

        if sum(x is not None for x in (ref_file, file_name, tag)) != 1:
            raise UserError.of("give exactly one of --ref-file, -f/--file or --tag")
        paths = {"ref_file": ref_file, "file_name": file_name}
        # Relative to where the command was typed, not to the project root.
        paths = {k: v if v in (None, "-") else os.path.abspath(v) for k, v in paths.items()}
        settings = settings_from({**opts, "identities": identities}, "refs")
        refs_path = settings.refs_path
        revealer = Revealer(RefStore(refs_path), Backends(settings.identities))
        rfile, fname = paths["ref_file"], paths["file_name"]
        try:
            if rfile is not None:
                rel = os.path.relpath(rfile, os.path.abspath(refs_path))
                ref = load_ref_file(rfile, rfile if rel.startswith("..") else rel)
                if ref is None:
                    raise UserError.of("no such ref file", path=rfile)
                click.echo(revealer.plaintext(ref), nl=False)
            elif tag is not None:
                click.echo(revealer.reveal_text(tag), nl=False)
            elif fname == "-":
                click.echo(revealer.reveal_file(None)[0], nl=False)
            else:
                for content, _kind in revealer.reveal_path(fname or "."):
                    click.echo(content, nl=False)
        except RefError as exc:
            raise _ref_problems(exc, rfile or fname or "") from None
        return 0

    run_action(opts, action, writes_compiled=False)


@refs_cmd.command("rotate")
@click.argument("tokens", nargs=-1)
@click.option("--all", "all_refs", is_flag=True, help="Every encrypted ref in refs/.")
@click.option("--type", "types", multiple=True,
              help="With --all: only refs of this type; repeatable.")
@RECIPIENT
@KEY
@TARGET
@apply_options(IDENTITY)
@apply_options(REFS_PATH)
@apply_options(INVENTORY)
@apply_options(VERBOSE)
@apply_options(DEBUG)
@click.pass_context
def rotate_cmd(ctx: click.Context, tokens: tuple[str, ...], all_refs: bool, types: tuple[str, ...],
               recipients: tuple[str, ...], key: str | None, target: str | None,
               identities: tuple[str, ...], **local: Any) -> None:
    """Re-encrypt refs to new recipients or keys; the values do not change.

    New recipients or key come from --recipient/--key, else from -t TARGET's
    parameters.kapitan.secrets, else from the target the ref's path names
    (refs/<target>/... or refs/targets/<target>/...).
    """
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..inventory import Inventory
        from ..refs.backends import Backends, RefParams
        from ..refs.store import RefError, RefStore, target_of

        settings = settings_from({**opts, "identities": identities}, "refs")
        if bool(tokens) == all_refs:
            raise UserError.of("name refs as TYPE:PATH, or give --all")
        if all_refs and (recipients or key) and not types:
            raise UserError.of("--all with --recipient or --key needs --type (which refs?)")
        store = RefStore(settings.refs_path)
        backends = Backends(settings.identities)
        wanted = [_split_token(t) for t in tokens]
        if all_refs:
            rotatable = {"gpg", "age", "awskms", "gkms", "azkms", "vaulttransit"}
            for path in store.paths():
                try:
                    ref = store.get(path)
                except RefError:
                    continue  # not a ref file; rotate only what it understands
                if ref and ref.type in rotatable and (not types or ref.type in types):
                    wanted.append((ref.type, path))
        explicit = bool(recipients or key)
        inventory = None
        problems: list[Problem] = []
        rotated = unchanged = 0
        for type_name, path in wanted:
            where = os.path.join(settings.refs_path, path)
            try:
                ref = store.get(path)
                if ref is None:
                    raise RefError(f"ref {type_name}:{path} not found")
                if ref.type != type_name:
                    raise RefError(f"ref {type_name}:{path} is a {ref.type} ref")
                owner = target
                if not explicit and not owner:
                    if inventory is None:
                        inventory = Inventory(settings.inventory_path, settings.backend,
                                              settings.compose_target_name,
                                              settings.class_wildcards)
                    owner = target_of(path, set(inventory.targets))
                    if owner is None:
                        raise RefError(f"ref {type_name}:{path}: no new recipients or key "
                                       "(give --recipient/--key or -t TARGET)")
                params = RefParams(recipients=recipients, key=key, target=owner or "",
                                   secrets=None if explicit or not owner
                                   else _target_secrets(settings, owner))
                fields = backends.get(type_name).rotate(ref, params)
            except RefError as exc:
                problems.append(Problem(where, 0, "", str(exc)))
                continue
            if fields is None:
                unchanged += 1
                if settings.verbose:
                    click.echo(f"{where}: already encrypted for these recipients/key", err=True)
                continue
            new = store.write(path, fields)
            rotated += 1
            click.echo(f"Rotated {where}: ?{{{type_name}:{path}:{new.hash[:8]}}}", err=True)
        click.echo(f"{rotated} rotated, {unchanged} unchanged"
                   + ("; recompile to update the tags in compiled/" if rotated else ""), err=True)
        if problems:
            raise UserError(problems)
        return 0

    run_action(opts, action, writes_compiled=False)


@refs_cmd.command("migrate")
@apply_options(REFS_PATH)
@apply_options(DEBUG)
@click.option("--check", is_flag=True,
              help="Change nothing: list the files that would change; exit 1 if any.")
@click.option("--key", "-K", default=None,
              help="KMS key to record in awskms/gkms/azkms refs that have none.")
@click.pass_context
def migrate_cmd(ctx: click.Context, check: bool, key: str | None, **local: Any) -> None:
    """Rewrite ref files from older Kapitans as Kapitan 0.36.3 writes them.

    Values, tags and hashes do not change (the data field is kept as it is).
    """
    opts = merge_opts(ctx, local)

    def action() -> int:
        from ..refs.backends import Backends
        from ..refs.migrate import apply, plan
        from ..refs.reveal import RefErrors
        from ..refs.store import RefStore

        settings = settings_from(opts, "refs")
        store = RefStore(settings.refs_path)
        backends = Backends()
        todo, problems = plan(store, key, lambda name: backends.get("gpg").lookup(name))
        if problems:
            raise _ref_problems(RefErrors(problems))
        for item in todo:
            click.echo(os.path.join(settings.refs_path, item.path))
        if not check:
            apply(store, todo)
        click.echo(f"{len(todo)} ref file(s) {'to migrate' if check else 'migrated'}", err=True)
        return 1 if check and todo else 0

    run_action(opts, action, writes_compiled=False)
