"""Every command of the README runs as written, in order, against a fresh network: none exits
with another status than the one its line states, and none prints a traceback.

Which blocks run. A fenced block is a command block when some of its lines start with `$ `:
each such line (with the lines that follow a trailing backslash) is one command; the other
lines are what it prints, an example, never checked. Every command block runs, so a section
added tomorrow is covered the day it is written, unless its fence says otherwise after the
language: ```` ```console slow ```` (it takes more than a minute, or runs until stopped) or
```` ```console browser ```` (it needs a browser). A command that is meant to fail says so at
the end of its line: `# exit status 1`.

Key figures. What a block shows after a command is an example, but its key figures are
checked (KEY_FIGURES: heights, counts, the `by code` line), so the README's samples cannot
drift from what the commands print (walkthrough red team F8: the samples said height 53 and
9 refusals long after the demo ended at 85 with 11). Each figure the sample shows must be in
the command's output.

How they run. All commands run in order in one bash session (so `ISSUER=...` in one block
serves the next), from a fresh folder holding links to the repository's top-level entries
(scripts/, .venv/, ...) but none of its network folders: the README's own `stoledger cluster
up --dir net` and `stoledger demo --keep` build the networks. Every node started is stopped by
pid afterwards. The session has a deadline; a command still running then is named.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from node.tools import cluster as clustermod

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
NOT_RUN = {"slow", "browser"}
EXIT_STATUS = re.compile(r"#\s*exit status (\d+)\s*$")
NETWORK_FOLDERS = {"net", "demo-net"}
SECONDS_PER_COMMAND = 120  # the deadline's share per command: a hang detector, not a timing
MIN_DEADLINE_S = 900.0


KEY_FIGURES = (re.compile(r"as of height \d+"), re.compile(r"heights 1\.\.\d+"),
               re.compile(r"\(height \d+\)"), re.compile(r"^by code: .*$", re.M),
               re.compile(r"^\d+ (?:holders?|transactions?|trades?|orders?|holds?|alerts?)\b",
                          re.M))


@dataclass(frozen=True)
class Command:
    line: int  # in README.md
    text: str
    status: int  # the exit status it must end with
    shown: str = ""  # what the README shows it printing (the lines after it in its block)


def command_blocks(markdown: str) -> list[tuple[str, list[Command]]]:
    """(info string, commands) of every fenced block with `$ ` lines, in order."""
    blocks: list[tuple[str, list[Command]]] = []
    lines = markdown.splitlines()
    index = 0
    while index < len(lines):
        opening = re.match(r"^(`{3,})(.*)$", lines[index])
        if not opening:
            index += 1
            continue
        fence, info = opening.group(1), opening.group(2).strip()
        start, index = index + 1, index + 1
        while index < len(lines) and not lines[index].startswith(fence):
            index += 1
        commands = parse_commands(lines[start:index], start + 1)
        if commands:
            blocks.append((info, commands))
        index += 1
    return blocks


def parse_commands(body: list[str], first_line: int) -> list[Command]:
    commands = []
    index = 0
    while index < len(body):
        if not body[index].startswith("$ "):
            index += 1
            continue
        line, parts = first_line + index, [body[index][2:]]
        while parts[-1].rstrip().endswith("\\") and index + 1 < len(body):
            index += 1
            parts.append(body[index])
        text = "\n".join(parts)
        wanted = EXIT_STATUS.search(text)
        shown = []
        while index + 1 < len(body) and not body[index + 1].startswith("$ "):
            index += 1
            shown.append(body[index])
        commands.append(Command(line, text, int(wanted.group(1)) if wanted else 0,
                                "\n".join(shown)))
        index += 1
    return commands


def figures_missing(command: Command, out: str) -> list[str]:
    """The key figures the README shows for `command` that its output does not have."""
    return [figure for pattern in KEY_FIGURES for figure in pattern.findall(command.shown)
            if figure not in out]


def runnable(markdown: str) -> list[Command]:
    return [command for info, commands in command_blocks(markdown)
            if not NOT_RUN & set(info.split()[1:]) for command in commands]


def test_blocks_are_found_and_marked_as_documented() -> None:
    sample = "\n".join([
        "```console", "$ echo one", "one", "$ false   # exit status 1", "```",
        "```", "make demo    # no prompt: not a command block", "```",
        "````console slow", "$ sleep 600 \\", "    && echo done", "````",
        "```console browser", "$ open http://127.0.0.1", "```",
        "```sh", "$ echo two \\", "  three", "```"])
    assert [(c.line, c.text, c.status) for c in runnable(sample)] == [
        (2, "echo one", 0), (4, "false   # exit status 1", 1),
        (17, "echo two \\\n  three", 0)]
    assert runnable(sample)[0].shown == "one"
    blocks = command_blocks(sample)
    assert [info for info, _ in blocks] == ["console", "console slow", "console browser", "sh"]
    assert blocks[1][1][0].text == "sleep 600 \\\n    && echo done"


def test_key_figures_of_a_sample_are_checked() -> None:
    [command] = runnable("```console\n$ stoledger audit rejected\n11 transactions, heights "
                         "1..85, as of height 85 (block ab...)\nby code: AML_BLOCKED 2\n"
                         "16  0  ...\n```")
    printed = ("11 transactions, heights 1..85, as of height 85 (block cd...)\n"
               "by code: AML_BLOCKED 2\n16  0  x\n")
    assert figures_missing(command, printed) == []
    assert figures_missing(command, printed.replace("85", "91")) == [
        "as of height 85", "heights 1..85"]
    assert figures_missing(command, printed.replace("11 trans", "9 trans")) == [
        "11 transactions"]


def test_the_readme_has_command_blocks_to_run() -> None:
    commands = runnable(README.read_text(encoding="utf-8"))
    texts = [c.text for c in commands]
    assert any(t.startswith("stoledger demo --keep") for t in texts)
    assert any(t.startswith("stoledger cluster up --dir net") for t in texts)
    assert any("# exit status 1" in t for t in texts)


def stop_networks(folder: Path) -> None:
    """Stop every node the README started under `folder`, by the pids in cluster.json."""
    for found in sorted(folder.glob("**/cluster.json")):
        try:
            clustermod.down(found.parent, progress=lambda line: None)
        except (OSError, ValueError, KeyError):
            info = clustermod.read_cluster(found.parent)
            for entry in info["nodes"]:
                if clustermod.is_running(entry.get("pid"), found.parent, entry["name"]):
                    os.kill(entry["pid"], signal.SIGKILL)


def session_script(commands: list[Command], work: Path) -> str:
    """A bash script that sources each command in turn, with its output and status kept."""
    (work / ".readme").mkdir()
    lines = ["cd " + str(work)]
    for number, command in enumerate(commands):
        script = work / ".readme" / f"{number}.sh"
        script.write_text(command.text + "\n")
        out = work / ".readme" / f"{number}"
        lines.append(f"echo {number} > {work}/.readme/current")
        lines.append(f". {script} > {out}.out 2> {out}.err < /dev/null; echo $? > {out}.rc")
    lines.append(f"echo done > {work}/.readme/current")
    return "\n".join(lines) + "\n"


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    commands = runnable(README.read_text(encoding="utf-8"))
    work = tmp_path / "clone"
    work.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in NETWORK_FOLDERS and entry.name != ".git":
            (work / entry.name).symlink_to(entry)
    script = session_script(commands, work)
    deadline = max(MIN_DEADLINE_S, SECONDS_PER_COMMAND * len(commands))
    env = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV",)}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)  # the README's activation adds it
    session = subprocess.Popen(["bash", "--noprofile", "--norc"], stdin=subprocess.PIPE,
                               cwd=work, env=env, start_new_session=True, text=True)
    try:
        session.communicate(script, timeout=deadline)
    except subprocess.TimeoutExpired:
        os.killpg(session.pid, signal.SIGKILL)
        session.wait()
        current = (work / ".readme" / "current").read_text().strip()
        stuck = commands[int(current)] if current.isdigit() else None
        pytest.fail(f"the README's commands did not finish in {deadline:.0f} s; still "
                    f"running: README.md:{stuck.line if stuck else '?'} "
                    f"{stuck.text if stuck else current}. A block that takes more than a "
                    "minute or runs until stopped is marked ```console slow```")
    finally:
        stop_networks(work)
    failures = []
    for number, command in enumerate(commands):
        base = work / ".readme" / f"{number}"
        status = int(base.with_suffix(".rc").read_text())
        out = base.with_suffix(".out").read_text(errors="replace")
        err = base.with_suffix(".err").read_text(errors="replace")
        where = f"README.md:{command.line}: $ {command.text}"
        if status != command.status:
            failures.append(f"{where}\n  exit status {status}, expected {command.status}\n"
                            f"  {(err or out)[-1500:]}")
        if "Traceback (most recent call last)" in out + err:
            failures.append(f"{where}\n  printed a traceback:\n{(err + out)[-3000:]}")
        missing = figures_missing(command, out)
        if missing and status == command.status:
            failures.append(f"{where}\n  the README shows {missing}; it printed:\n"
                            f"{out[-1500:]}")
    assert not failures, "\n\n".join(failures)
    written = sorted(e.name for e in work.iterdir() if not e.is_symlink() and e.name != ".readme")
    assert set(written) <= NETWORK_FOLDERS, (
        f"the README's commands wrote {written} into the repository's folder; write keys, "
        "envelopes and proofs under the network's folder (net/, demo-net/)")
    for folder in written:  # and git ignores what they write
        ignored = subprocess.run(["git", "check-ignore", "-q", f"{folder}/keys/yoon.json"],
                                 cwd=ROOT, check=False)
        assert ignored.returncode == 0, f"git does not ignore {folder}/"
