#!/usr/bin/env python3
"""Writes the ~15,000-word benchmark writeup (bench/writeups/harbor-systems-2025.md) to stdout.

The conference, talks, speakers and numbers are invented; the text is assembled from the templates
below with a fixed seed, so the output is the same on every run (the committed file is the
reference: its recordings in bench/recordings/ only replay for exactly these bytes).

    python3 bench/gen_writeup.py > bench/writeups/harbor-systems-2025.md
"""
import random

R = random.Random(20250611)

TOPICS = [
    ("Platform engineering without a platform team", "platform engineering", "golden paths"),
    ("Observability budgets that finance understands", "observability", "trace sampling"),
    ("Rust in the storage path", "Rust", "memory safety"),
    ("Postgres at ten thousand connections", "Postgres", "connection pooling"),
    ("Incident reviews that change something", "incident reviews", "follow-up actions"),
    ("Feature flags as a deployment primitive", "feature flags", "progressive delivery"),
    ("Kubernetes upgrades on a schedule", "Kubernetes upgrades", "version skew"),
    ("Cost-aware autoscaling", "autoscaling", "cost per request"),
    ("Supply-chain security for small teams", "supply-chain security", "signed artifacts"),
    ("Event sourcing, five years later", "event sourcing", "schema evolution"),
    ("WebAssembly at the edge", "WebAssembly", "cold starts"),
    ("Testing in production, carefully", "testing in production", "blast radius"),
    ("Developer portals people actually open", "developer portals", "service catalogs"),
    ("Queue design for bursty traffic", "message queues", "back-pressure"),
    ("SQLite for serious workloads", "SQLite", "single-writer design"),
    ("On-call that does not burn people out", "on-call", "alert fatigue"),
    ("Local-first sync engines", "local-first software", "conflict resolution"),
    ("The economics of model inference", "model inference", "batching"),
    ("Zero-downtime schema migrations", "schema migrations", "expand and contract"),
    ("Service meshes: keep or remove?", "service meshes", "sidecar overhead"),
    ("Build caches that scale with the monorepo", "build caches", "remote execution"),
    ("Chaos engineering for databases", "chaos engineering", "failure injection"),
    ("Green software in practice", "energy efficiency", "carbon-aware scheduling"),
    ("Staff engineers and technical strategy", "technical strategy", "written decisions"),
]

FIRST = ["Amira", "Jonas", "Priya", "Tomasz", "Keiko", "Luis", "Ngozi", "Henrik", "Mei", "Rafael",
         "Ingrid", "Daniel", "Sofia", "Kwame", "Elena", "Marcus", "Yuki", "Fatima", "Oskar", "Leila"]
LAST = ["Okafor", "Lindqvist", "Raman", "Nowak", "Tanaka", "Ferreira", "Adeyemi", "Berg", "Chen",
        "Duarte", "Solberg", "Weiss", "Marino", "Mensah", "Petrova", "Hale", "Sato", "Haddad",
        "Nilsen", "Karimi"]
COMPANIES = ["a logistics company", "a payments startup", "a public broadcaster", "a hospital group",
             "an online marketplace", "a national railway", "a game studio", "a weather service",
             "an insurance firm", "a streaming service", "a university IT department", "a bank"]

OPENERS = [
    "{speaker} from {company} opened with a story about {topic} that most of the room recognised.",
    "The talk by {speaker} ({company}) was the one I had circled in the programme, and it delivered.",
    "{speaker} works at {company}, and spent the first ten minutes on why {topic} went wrong there twice.",
    "I almost skipped this one, but {speaker} of {company} turned {topic} into the most practical hour of the day.",
]
CLAIMS = [
    "The main argument was that {topic} only pays off once {practice} is treated as a product, not a project.",
    "Their team cut {metric} by {pct} percent in {months} months, mostly by making {practice} the default.",
    "{speaker_first} was blunt: without {practice}, {topic} turns into a pile of exceptions nobody owns.",
    "The numbers were convincing: {metric} dropped from {a} to {b} after the change, with no extra headcount.",
    "A recurring point was that {practice} is a social problem before it is a technical one.",
    "They measured everything before touching anything, and the baseline alone changed the plan.",
    "The hardest part, according to {speaker_first}, was not the tooling but agreeing on what done means.",
    "Most of the gains came from removing steps rather than adding automation on top of them.",
    "Small, boring, reversible changes beat the big redesign every time they tried both.",
    "The team wrote down every decision in a short document, and those documents outlived two reorganisations.",
]
DETAILS = [
    "In practice that meant a weekly review of {metric} with the people who pay for it.",
    "They publish a one-page scorecard per service, and teams compete to keep it green.",
    "Every new service starts from a template that already has {practice} wired in.",
    "A migration script runs in dry-run mode for two weeks before anyone is allowed to enable it.",
    "The rollout went region by region, and the second region took half the time of the first.",
    "They kept the old path alive behind a flag for a whole quarter, which saved them at least once.",
    "Alerts now link straight to a runbook, and a runbook without an owner gets deleted after ninety days.",
    "Dashboards were cut from {a} to {small}, and nobody asked for the old ones back.",
    "The on-call rotation grew from four to nine people, which halved the pages per person.",
    "Load tests run nightly against a copy of production traffic, scaled down by a factor of ten.",
    "Their budget for {metric} is set per team, and overruns are discussed, not punished.",
    "A shared library replaced {a} copies of the same retry logic scattered across the codebase.",
]
OPINIONS = [
    "I agree with most of this, although I think {practice} is harder in a company with fewer than fifty engineers.",
    "What struck me was how little of it depended on a specific vendor.",
    "I would have liked more on what failed; the slides were a little too tidy.",
    "This matches what we saw last year with our own {topic} effort, almost step by step.",
    "The Q&A was better than the talk: people pushed hard on the cost side, and the answers held up.",
    "It is the first talk on {topic} I have seen that admitted the trade-offs out loud.",
    "My takeaway: start with {practice} on one team, measure, and only then write the internal memo.",
    "Several people around me were taking notes on the same slide, which is always a good sign.",
]
QA = [
    "Someone asked whether {practice} works without management support; the answer was a clear no.",
    "A question about open-source alternatives got a long answer: they tried three and kept the simplest.",
    "Asked about team size, {speaker_first} said two people maintained the whole thing part time.",
    "The last question was about failure modes; the honest answer was that the first month was rough.",
]
METRICS = ["p99 latency", "monthly cloud spend", "time to first deploy", "pages per week",
           "build time", "mean time to recovery", "storage cost", "lead time for changes"]
LANGS = ["sh", "yaml", "sql", "rust", "toml"]
CODE = {
    "sh": ["kubectl rollout status deploy/{svc} --timeout=5m", "./scripts/migrate.sh --dry-run --env staging",
           "curl -s localhost:9090/metrics | grep {svc}_requests_total"],
    "yaml": ["service: {svc}", "replicas: {small}", "budget:\n  monthly_usd: {a}"],
    "sql": ["SELECT count(*) FROM events WHERE service = '{svc}';", "ALTER TABLE orders ADD COLUMN region text;"],
    "rust": ["let pool = Pool::builder().max_size({small}).build(manager)?;", "tracing::info!(service = \"{svc}\", \"ready\");"],
    "toml": ["[service]\nname = \"{svc}\"", "max_connections = {a}"],
}
CJK = [
    "会場では多くの参加者がこの話題について熱心に議論していました。",
    "小さな変更を積み重ねることが、大きな再設計よりも効果的だという意見が多かったです。",
    "运维团队认为，先测量再优化是最重要的原则。",
]


def words(text):
    return len(text.split())


def fill(template, ctx):
    return template.format(**ctx)


def context(topic, practice):
    first, last = R.choice(FIRST), R.choice(LAST)
    a = R.randint(40, 900)
    return {
        "speaker": f"{first} {last}", "speaker_first": first, "company": R.choice(COMPANIES),
        "topic": topic, "practice": practice, "metric": R.choice(METRICS),
        "pct": R.randint(12, 70), "months": R.randint(3, 18), "a": a, "b": a // R.randint(2, 5),
        "small": R.randint(3, 12), "svc": R.choice(["checkout", "search", "ledger", "ingest", "notify"]),
    }


class Deck:
    """Draws templates without repeating one until all of its pool was used (per section)."""

    def __init__(self):
        self.left = {}

    def draw(self, pool):
        key = id(pool)
        if not self.left.get(key):
            self.left[key] = R.sample(pool, len(pool))
        return self.left[key].pop()


DECK = Deck()


def paragraph(pools, ctx, n):
    return " ".join(fill(DECK.draw(R.choice(pools)), ctx) for _ in range(n))


def section(title, topic, practice, index):
    ctx = context(topic, practice)
    DECK.left.clear()
    out = [f"## {title}", ""]
    out += [fill(R.choice(OPENERS), ctx) + " " + paragraph([CLAIMS], ctx, 3), ""]
    sub = index % 3 == 0
    for p in range(5):
        if sub and p == 2:
            out += ["### Questions from the audience", ""]
        out += [paragraph([CLAIMS, DETAILS, DETAILS], ctx, R.randint(4, 5)), ""]
    out += [f"What I wrote down about {topic}:", ""]
    out += [f"- {fill(DECK.draw(DETAILS), ctx)}" for _ in range(R.randint(3, 5))] + [""]
    if index % 4 == 1:
        lang = R.choice(LANGS)
        out += [f"```{lang}"] + [fill(line, ctx) for line in R.sample(CODE[lang], 2)] + ["```", ""]
    if index % 5 == 2:
        out += ["| metric | before | after |", "|---|---|---|"]
        for m in R.sample(METRICS, 3):
            x = R.randint(50, 900)
            out.append(f"| {m} | {x} | {x // R.randint(2, 4)} |")
        out.append("")
    if index % 7 == 3:
        out += [R.choice(CJK), ""]
    out += [fill(R.choice(QA), ctx) + " " + paragraph([OPINIONS], ctx, 2), ""]
    out += [paragraph([OPINIONS, DETAILS], ctx, R.randint(3, 5)), ""]
    return "\n".join(out)


def main():
    parts = [
        "---",
        "title: Harbor Systems Conference 2025 trip report",
        "date: 2025-06-14",
        "author: Bench Writer",
        "---",
        "",
        "# Harbor Systems Conference 2025 trip report",
        "",
        "Three days, two tracks, and far too much coffee. This is a long writeup: one section per talk I "
        "attended, with my notes, the numbers the speakers shared, and my own opinion at the end of each.",
        "",
        "My takeaways, if you read nothing else:",
        "",
    ]
    picks = R.sample(TOPICS, 5)
    parts += [f"{i}. For {t[1]}, get {t[2]} right before scaling out." for i, t in enumerate(picks, 1)] + [""]
    body = []
    for i, (title, topic, practice) in enumerate(TOPICS):
        body.append(section(title, topic, practice, i))
    text = "\n".join(parts) + "\n" + "\n".join(body)
    text += "\n## Final thoughts\n\n" + paragraph([OPINIONS], context("the conference", "measuring first"), 6) + "\n"
    return text


if __name__ == "__main__":
    out = main()
    import sys
    sys.stdout.write(out)
    print(f"{words(out)} words", file=sys.stderr)
