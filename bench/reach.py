"""The graded target score (reach) on voices the catalogue never saw (issue 18's target:
two takes of different voices toward the same far target differ on >= 90 % of pairs).

Leave-voices-out, 5 folds, on a bench catalogue's embeddings (``bench.accuracy
--keep-catalog``), through the product's ``fit_matching``, ``Matcher`` and
``Matcher.standing``: for every pair of takes (recorded clips) of two different left-out
voices and every target outside both takes' top 10, do the two read a different
whole-point reach? Also two takes of one voice (the practice flow's signed change), and
the resemblance for comparison.

    python -m bench.reach /tmp/bench/cat-A
"""

from __future__ import annotations

import argparse

import numpy as np

from inference.catalog.folder import Catalog, Clip, make_index
from inference.catalog.matching import Matcher, fit_matching


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("catalog", help="a catalogue folder built by bench.accuracy")
    where = ap.parse_args().catalog
    full = Catalog.load(where)
    X, lab, orig = full.embeddings, full.clip_artist, full.original
    groups = np.unique([c.source for c in full.clips], return_inverse=True)[1]
    n = len(full.artists)
    perm = np.random.default_rng(1).permutation(n)
    diff, same, res_diff, near_same, ranks_reach = [], [], [], [], {}
    for f in (perm[i::5] for i in range(5)):
        keep = np.setdiff1d(np.arange(n), f)
        rows = np.flatnonzero(np.isin(lab, keep))
        a = np.searchsorted(keep, lab[rows])
        matching, proj = fit_matching(X[rows], a, groups[rows], orig[rows])
        clips = [
            Clip(int(x), "s", 0.0, 10.0, "" if o else "v")
            for x, o in zip(a, orig[rows], strict=True)
        ]
        cat = Catalog(
            encoder={"name": "resemblyzer", "version": "b", "dim": X.shape[1]},
            artists=[full.artists[i] for i in keep],
            demo_artists=set(),
            clips=clips,
            embeddings=X[rows],
            styles=np.zeros((len(rows), 8), np.float32),
            refs={},
            matching=matching,
            projection=proj,
        )
        m = Matcher(cat)
        cat.index = make_index(m.project(X[rows]))
        members = np.flatnonzero(np.isin(lab, f) & orig)
        reach = np.zeros((len(members), len(keep)))
        res = np.zeros_like(reach)
        rank = np.zeros_like(reach, int)
        for k, e in enumerate(members):
            sims = m.artist_similarities(X[e])
            for t, artist in enumerate(cat.artists):
                match, r = m.standing(sims, artist, X[e])
                reach[k, t], res[k, t], rank[k, t] = round(match.reach), round(match.score), r
                ranks_reach.setdefault(r, []).append(match.reach)
        who = lab[members]
        for i in range(len(members)):
            for j in range(i + 1, len(members)):
                far = (rank[i] > 10) & (rank[j] > 10)
                if who[i] != who[j]:
                    diff.append(reach[i, far] != reach[j, far])
                    res_diff.append(res[i, far] != res[j, far])
                else:
                    same.append(reach[i, far] != reach[j, far])
                    near = (rank[i] <= 3) & (rank[j] <= 3)
                    near_same.append(reach[i, near] != reach[j, near])
    d, s, rd, ns = (np.concatenate(x) for x in (diff, same, res_diff, near_same))
    print(f"{where}: {n} voices, 5 folds")
    print(
        "far target (outside both top 10), two takes of different voices: reach differs on "
        f"{d.mean():.1%} of {d.size} pairs (resemblance: {rd.mean():.1%})"
    )
    print(f"far target, two takes of one voice: reach moves on {s.mean():.1%} of {s.size} pairs")
    print(
        f"near target (top 3), two takes of one voice: reach moves on {ns.mean():.1%} of {ns.size}"
    )
    print(
        "reach by rank (median):",
        {
            r: round(float(np.median(v)), 1)
            for r, v in sorted(ranks_reach.items())
            if r in (1, 5, 6, 10, 20, 34)
        },
    )


if __name__ == "__main__":
    main()
