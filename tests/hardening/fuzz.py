"""A seeded generator of policy files, each labelled valid or invalid *by construction*.

Issue 16's fuzzer fed 1,000 bad policy files to a running daemon. This is that fuzzer, reproducible:
`generate(seed, n)` returns the same files for the same seed. Invalid files come from a catalogue of
mutations (one per kind of breakage the issue lists, plus syntax, type and reference errors); valid ones
are tcp/file components with random but in-range values. The label never comes from healerd's own
loader, so a loader that accepts a bad file (or refuses a good one) is caught.

Used by tests/hardening/test_fuzz_corpus.py (the small corpus kept as a regression suite,
`corpus.jsonl`) and by bench/config_fuzz.py (≥ 1,000 files against a running daemon).

    python tests/hardening/fuzz.py --seed 16 --count 80 > tests/hardening/corpus.jsonl
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import string
import sys
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

#: What a symlinked secret holds: a shadow-format line whose hash must never be echoed.
SECRET_TEXT = "root:$6$FUZZSALT$FUZZHASHabcdefghijklmnop0123456789:19000:0:99999:7:::\nbin:*:19000:0:99999:7:::\n"
SECRET_MARKERS = ("FUZZSALT", "FUZZHASH")
PORT = "{port}"  # filled with the listener's port when the corpus is materialised


@dataclass(frozen=True)
class FuzzFile:
    name: bytes  # the file name inside policies.d/ (bytes: some are not valid UTF-8)
    content: bytes
    valid: bool
    why: str
    #: "secret": the file is a symlink to a file holding SECRET_TEXT (outside the config directory)
    symlink: str | None = None
    #: names of the components this file defines (for "every valid component is checked")
    components: tuple[str, ...] = ()

    def to_json(self) -> str:
        d = asdict(self)
        d["name"] = base64.b64encode(self.name).decode()
        d["content"] = base64.b64encode(zlib.compress(self.content, 9)).decode()  # 1 MB values stay small
        d["components"] = list(self.components)
        return json.dumps(d, sort_keys=True)

    @staticmethod
    def from_json(line: str) -> FuzzFile:
        d = json.loads(line)
        return FuzzFile(
            base64.b64decode(d["name"]),
            zlib.decompress(base64.b64decode(d["content"])),
            d["valid"],
            d["why"],
            d.get("symlink"),
            tuple(d.get("components", ())),
        )


def _tcp(name: str, rng: random.Random, extra: str = "", check_extra: str = "") -> str:
    every = rng.choice(["1s", "2s", "3s", "1500ms"])
    weight = f"weight = {round(rng.uniform(0.1, 100), 3)}\n" if rng.random() < 0.5 else ""
    desc = "".join(rng.choice(string.ascii_letters + " ") for _ in range(rng.randint(0, 40)))
    return (
        f'[[component]]\nname = "{name}"\ndescription = "{desc}"\n{weight}{extra}'
        f'[component.check]\nkind = "tcp"\nport = {PORT}\nevery = "{every}"\ntimeout = "500ms"\n{check_extra}'
    )


def _valid(i: int, rng: random.Random) -> FuzzFile:
    name = f"v{i}"
    if rng.random() < 0.3:
        every = rng.choice(["1s", "2s"])
        text = (
            f"component:\n  - name: {name}\n    check:\n      kind: tcp\n      port: {PORT}\n"
            f"      every: {every}\n      timeout: 300ms\n"
        )
        return FuzzFile(f"{name}.yaml".encode(), text.encode(), True, "valid yaml", components=(name,))
    breaker = ""
    if rng.random() < 0.3:
        breaker = (
            f"[component.breaker]\nconsecutive_failures = {rng.randint(1, 10)}\n"
            f'open_for = "{rng.randint(1, 60)}s"\nmax_open_for = "{rng.randint(61, 600)}s"\n'
        )
    return FuzzFile(
        f"{name}.toml".encode(), (_tcp(name, rng) + breaker).encode(), True, "valid toml", components=(name,)
    )


def _nested(depth: int) -> str:
    text = "1"
    for _ in range(depth):
        text = f"[{text}]"
    return text


def _invalid(i: int, rng: random.Random) -> list[FuzzFile]:
    name = f"x{i}"
    toml = f"{name}.toml".encode()
    kind = rng.randrange(16)
    if kind == 0:
        every = rng.choice(["3650000d", "99999999999999999999d", "2d", "0s", "-1s", "5", "1e3s", "9" * 400 + "ms"])
        return [
            FuzzFile(
                toml,
                _tcp(name, rng).replace('every = "', f'every = "{every}" #').encode(),
                False,
                f"every {every[:20]}",
            )
        ]
    if kind == 1:  # item 2: a name that is not UTF-8 (the content is fine)
        return [
            FuzzFile(
                f"bad-{i}-".encode() + bytes([0xFF, 0xFE]) + b".toml", _tcp(name, rng).encode(), False, "non-UTF-8 name"
            )
        ]
    if kind == 2:  # item 3
        check = (
            f'[component.check]\nkind = "http"\nurl = "http://127.0.0.1:{PORT}/"\njson_path = "a"\n'
            f"json_equals = {_nested(rng.randint(33, 400))}\n"
        )
        return [FuzzFile(toml, f'[[component]]\nname = "{name}"\n{check}'.encode(), False, "deep json_equals")]
    if kind == 3:  # item 4
        value = rng.choice(["inf", "-inf", "nan", "1e308", "0", "-1", "1e7"])
        return [
            FuzzFile(
                toml,
                _tcp(name, rng).replace("[component.check]", f"weight = {value}\n[component.check]", 1).encode(),
                False,
                f"weight {value}",
            )
        ]
    if kind == 4:  # item 5: NUL bytes and a megabyte URL
        choice = rng.randrange(4)
        if choice == 0:
            text = f'[[component]]\nname = "{name}"\n[component.check]\nkind = "file"\npath = "/tmp/a\\u0000b"\n'
        elif choice == 1:
            text = f'[[component]]\nname = "{name}"\n[component.check]\nkind = "exec"\nrun = ["/bin/true", "\\u0000"]\n'
        elif choice == 2:
            text = (
                f'[[component]]\nname = "{name}"\n[component.check]\nkind = "http"\nurl = "http://{"h" * 1_000_000}/"\n'
            )
        else:
            text = f'[[checkpoint]]\nname = "{name}cp"\ncomponent = "{name}"\npaths = ["/x\\u0000"]\n' + _tcp(name, rng)
        return [FuzzFile(toml, text.encode(), False, f"NUL or huge value #{choice}")]
    if kind == 5:  # item 6: a megabyte name
        big = rng.choice(string.ascii_uppercase) * 1_000_000
        return [FuzzFile(toml, _tcp(big, rng).encode(), False, "1 MB name")]
    if kind == 6:  # item 7: a depends_on cycle across two files (each valid alone)
        a, b = f"{name}a", f"{name}b"
        return [
            FuzzFile(
                f"{a}.toml".encode(), _tcp(a, rng, extra=f'depends_on = ["{b}"]\n').encode(), False, "cycle half a"
            ),
            FuzzFile(
                f"{b}.toml".encode(), _tcp(b, rng, extra=f'depends_on = ["{a}"]\n').encode(), False, "cycle half b"
            ),
        ]
    if kind == 7:  # item 8: a symlink to a secret
        return [FuzzFile(f"{name}.yaml".encode(), b"", False, "symlink to a secret", symlink="secret")]
    if kind == 8:  # syntax: cut inside a string
        text = _tcp(name, rng)
        cut = text.index('name = "') + 8 + rng.randint(0, len(name) - 1)
        return [FuzzFile(toml, text[:cut].encode(), False, "truncated")]
    if kind == 9:  # random bytes
        return [
            FuzzFile(toml, bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))) + b"\xff", False, "garbage")
        ]
    if kind == 10:  # a typo
        return [FuzzFile(toml, _tcp(name, rng).replace("timeout", "timout").encode(), False, "unknown key")]
    if kind == 11:  # wrong types and out-of-range integers
        port = rng.choice(['"x"', "0", "70000", "-5", str(10**30)])
        return [
            FuzzFile(
                toml, _tcp(name, rng).replace(f"port = {PORT}", f"port = {port}").encode(), False, f"port {port[:12]}"
            )
        ]
    if kind == 12:  # YAML that is not a mapping
        return [
            FuzzFile(
                f"{name}.yml".encode(),
                rng.choice([b"- a\n- b\n", b"just text\n", b"42\n"]),
                False,
                "yaml not a mapping",
            )
        ]
    if kind == 13:  # a dangling reference
        return [
            FuzzFile(toml, _tcp(name, rng, extra=f'depends_on = ["ghost{i}"]\n').encode(), False, "dangling depends_on")
        ]
    if kind == 14:  # huge integers where a count is expected
        return [
            FuzzFile(
                toml,
                (
                    _tcp(name, rng) + f"[component.breaker]\nconsecutive_failures = {10 ** rng.randint(7, 40)}\n"
                ).encode(),
                False,
                "huge integer",
            )
        ]
    # 15: a timeout longer than its interval
    return [
        FuzzFile(toml, _tcp(name, rng).replace('timeout = "500ms"', 'timeout = "2h"').encode(), False, "timeout 2h")
    ]


def generate(seed: int, count: int, valid_share: float = 0.4) -> list[FuzzFile]:
    """Exactly `count` files (a cycle pair is two), the same ones for the same seed."""
    rng = random.Random(seed)
    files: list[FuzzFile] = []
    i = 0
    while len(files) < count:
        i += 1
        group = [_valid(i, rng)] if rng.random() < valid_share else _invalid(i, rng)
        if len(files) + len(group) > count:
            group = [_valid(i, rng)]
        files.extend(group)
    return files


def materialise(files: list[FuzzFile], policies: Path, secret_dir: Path, port: int) -> None:
    """Write the files into `policies` (symlinks point at a shadow-like file in `secret_dir`)."""
    secret_dir.mkdir(exist_ok=True)
    os.chmod(secret_dir, 0o755)
    secret = secret_dir / "shadow"
    if not secret.exists():
        secret.write_text(SECRET_TEXT)
        os.chmod(secret, 0o640)
    root = os.fsencode(policies)
    for f in files:
        path = os.path.join(root, f.name)
        if f.symlink == "secret":
            os.symlink(os.fsencode(secret), path)
            continue
        tmp = path + b".tmp"  # ignored by the loader: the file appears whole
        with open(tmp, "wb") as out:
            out.write(f.content.replace(b"{port}", str(port).encode()))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)


def shown_name(f: FuzzFile) -> str:
    """How healerd names the file: relative, undecodable bytes escaped."""
    return "policies.d/" + f.name.decode("utf-8", "backslashreplace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--count", type=int, default=80)
    args = parser.parse_args()
    for f in generate(args.seed, args.count):
        sys.stdout.write(f.to_json() + "\n")


if __name__ == "__main__":
    main()
