# The failover tests' reader and writer checks, shared by vm-tests/failover.nix (inlined into its test
# script) and vm-tests/mirror/failover.sh (through `main`). Plain Python 3, no dependencies.
#
# Inputs, all text with one record a line (written on the client host, so one clock):
#   reads    "NODE TIME KIND STATUS TXID VALUES" from `mysetlist-client read-loop`: KIND session
#            (VALUES = the reader fan's my_votes, "SONG,SONG") or ranking ("SONG:VOTES,…"); STATUS
#            000 = connection failed; TXID hex or "-".
#   markers  "NODE EVENT TIME", EVENT one of down (about to be killed or stopped), up (about to be
#            started: a new process), cut (about to be cut off the network), heal (reconnected).
#   refused  "TIME NODE STATUS retry-after=V x-mysetlist-role=V …": every write the vote load saw
#            refused, TIME taken when the answer came.
#
# What must hold, per node process (from an "up" marker to the next one; a cut does not end it):
#   - every 200 session read returns exactly the reader fan's votes, and no session read is 401/403;
#   - a song's vote count never decreases between successful ranking reads (the load only adds votes);
#   - x-mysetlist-txid never decreases;
#   - every refused write is 503 with Retry-After and x-mysetlist-role, or a connection failure to a
#     node that was not serving (between a down/cut marker and its first successful read after up/heal).
# The read-unavailable window: while a node serves (from its first 200 after up/heal to the next down
# or cut, or the end of the log), the longest time between two 200s of the same kind of read.
import sys
from typing import Dict, List, Set, Tuple


def parse_markers(markers: str) -> List[Tuple[float, str, str]]:
    events = []
    for line in markers.splitlines():
        words = line.split()
        if len(words) == 3:
            events.append((float(words[2]), words[0], words[1]))
    return sorted(events)


def check_reads(
    reads: str, markers: str, expected: Set[str]
) -> Tuple[List[str], List[str], Dict[str, List[Tuple[float, float]]]]:
    """Returns (RESULT lines, problems, serving spans per node)."""
    events: List[Tuple[float, int, str, List[str]]] = []
    for t, node, event in parse_markers(markers):
        events.append((t, 0, node, [event]))
    for order, line in enumerate(reads.splitlines()):
        words = line.split()
        if len(words) != 6:
            continue
        events.append((float(words[1]), 1 + order, words[0], words))
    events.sort(key=lambda e: (e[0], e[1]))

    problems: List[str] = []
    txid: Dict[str, int] = {}
    counts: Dict[str, Dict[str, int]] = {}
    serving: Dict[str, bool] = {}
    reachable: Dict[str, bool] = {}
    last_ok: Dict[Tuple[str, str], float] = {}
    longest: Dict[str, Tuple[float, str, float]] = {}
    spans: Dict[str, List[Tuple[float, float]]] = {}
    span_start: Dict[str, float] = {}
    checked: Dict[str, int] = {}
    answered: Dict[str, int] = {}
    last_time: Dict[str, float] = {}

    def gap(node: str, kind: str, t: float) -> None:
        since = last_ok.get((node, kind))
        if since is not None and t - since > longest.get(node, (0.0, "", 0.0))[0]:
            longest[node] = (t - since, kind, since)

    def stop_serving(node: str, t: float) -> None:
        if serving.get(node):
            for kind in ("session", "ranking"):
                gap(node, kind, t)
            spans.setdefault(node, []).append((span_start[node], t))
        serving[node] = False
        for kind in ("session", "ranking"):
            last_ok.pop((node, kind), None)

    for t, _, node, words in events:
        if len(words) == 1:
            event = words[0]
            if event in ("down", "cut"):
                stop_serving(node, t)
                reachable[node] = False
            elif event in ("up", "heal"):
                reachable[node] = True
                if event == "up":  # a new process: it starts from its own copy
                    txid.pop(node, None)
                    counts.pop(node, None)
            continue
        _, _, kind, status, tx, values = words
        at = f"{node} at {t:.2f}"
        checked[node] = checked.get(node, 0) + 1
        last_time[node] = t
        if tx != "-":
            value = int(tx, 16)
            if value < txid.get(node, 0):
                problems.append(f"{at}: {kind} x-mysetlist-txid went back from {txid[node]:016x} to {tx}")
            txid[node] = max(value, txid.get(node, 0))
        if kind == "session" and status in ("401", "403"):
            problems.append(f"{at}: the reader fan's session was refused ({status})")
        if status != "200":
            continue
        answered[node] = answered.get(node, 0) + 1
        if not serving.get(node) and reachable.get(node, True):
            serving[node] = True
            span_start[node] = t
        if serving.get(node):
            gap(node, kind, t)
            last_ok[(node, kind)] = t
        if kind == "session":
            have = set(values.split(",")) - {"-"}
            if have != expected:
                problems.append(
                    f"{at}: session read returned votes {sorted(have)}, not the reader fan's {sorted(expected)}"
                )
        else:
            now: Dict[str, int] = {}
            for item in values.split(","):
                song, _, count = item.partition(":")
                if count:
                    now[song] = int(count)
            before = counts.get(node, {})
            for song, highest in before.items():
                if now.get(song, 0) < highest:
                    problems.append(f"{at}: song {song} went back from {highest} to {now.get(song, 0)} votes")
            merged = dict(before)
            for song, count_now in now.items():
                merged[song] = max(count_now, merged.get(song, 0))
            counts[node] = merged
    for node, t in last_time.items():
        stop_serving(node, t)

    results = []
    for node in sorted(checked):
        window, kind, since = longest.get(node, (0.0, "-", 0.0))
        bad = sum(1 for line in problems if line.startswith(f"{node} at "))
        results.append(
            f"reads {node}: {checked[node]} reads ({answered.get(node, 0)} answered 200), {bad} went back"
            f" or were refused a session; longest"
            f" read-unavailable window {window:.2f}s ({kind} reads, from {since:.2f})"
        )
    return results, problems, spans


def check_refusals(
    refused: str, spans: Dict[str, List[Tuple[float, float]]]
) -> Tuple[List[str], List[str]]:
    """Returns (RESULT lines, problems) for the refused writes."""
    problems: List[str] = []
    roles: Dict[str, int] = {}
    offline = 0
    for line in refused.splitlines():
        words = line.split()
        if len(words) < 3:
            continue
        t, node, status = float(words[0]), words[1], words[2]
        headers = dict(w.split("=", 1) for w in words[3:5] if "=" in w)
        if status == "000":
            if any(start <= t <= end for start, end in spans.get(node, [])):
                problems.append(f"{node} at {t:.2f}: a write failed to connect while the node was serving")
            offline += 1
        elif status != "503" or headers.get("retry-after", "-") == "-" or headers.get("x-mysetlist-role", "-") == "-":
            problems.append(f"{node} at {t:.2f}: a write was refused with {' '.join(words[2:])}")
        else:
            role = f"{node}/{headers['x-mysetlist-role']}"
            roles[role] = roles.get(role, 0) + 1
    summary = ", ".join(f"{n} {r}" for r, n in sorted(roles.items())) or "none"
    return [
        f"writes: {sum(roles.values())} refused with 503 + Retry-After + x-mysetlist-role ({summary}),"
        f" {offline} connection failures to a node down or cut off, {len(problems)} refused otherwise"
    ], problems


def check_all(reads: str, markers: str, refused: str, expected: Set[str]) -> Tuple[List[str], List[str]]:
    results, problems, spans = check_reads(reads, markers, expected)
    more, refusal_problems = check_refusals(refused, spans)
    return results + more, problems + refusal_problems


def main(argv: List[str]) -> int:
    """read_check.py READS MARKERS REFUSED SONG,SONG: prints RESULT lines, problems on stderr."""
    texts: List[str] = []
    for path in argv[:3]:
        with open(path) as f:
            texts.append(f.read())
    expected = set(argv[3].split(","))
    results, problems = check_all(texts[0], texts[1], texts[2], expected)
    for line in results:
        print(f"RESULT {line}")
    for line in problems[:20]:
        print(line, file=sys.stderr)
    if len(problems) > 20:
        print(f"… and {len(problems) - 20} more", file=sys.stderr)
    return 1 if problems else 0
