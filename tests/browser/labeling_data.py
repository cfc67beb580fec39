"""Items for the labeling browser tests: realistic enough that the screenshots show real pages."""
import io
import json

from annotation.models import Project
from annotation.services.imports import data_import

GUIDELINES = """Prefer the response that **answers the question** correctly and concisely.

- Correctness first, then helpfulness, then style.
- Code must run as written; mark *both bad* if neither does.
- Use *tie* only when you truly cannot choose.
"""

TUPLE_PROMPT = [
    {"role": "system", "content": "You are a concise Python tutor."},
    {"role": "user", "content": "What is the difference between a list and a tuple in Python?"},
]
TUPLE_GOOD = """A **list** is mutable; a **tuple** is immutable.

```python
xs = [1, 2]
xs.append(3)      # fine
t = (1, 2)
t.append(3)       # AttributeError
```

Use a tuple for fixed records (and as dict keys, since it is hashable); use a list for collections that grow."""
TUPLE_WEAK = "They are the same thing, but tuples use round brackets `()` and lists use square brackets `[]`."

HOSTILE_TEXT = (
    "<script>window.__pwned=1</script>\n\n"
    '<img src=x onerror="window.__pwned=1">\n\n'
    "[click me](javascript:window.__pwned=1)\n\n"
    '<a href="javascript:window.__pwned=1">raw link</a>'
)

SORT_RESPONSES = [
    "Use `sorted(xs)`: it returns a new sorted list and leaves `xs` as it was.",
    "Call `xs.sort()` to sort in place, or `sorted(xs)` for a new list. Both take `key=` and `reverse=`.",
    "Write a bubble sort with two nested loops over the list.",
    "Sorting is not possible for Python lists.",
]

LONG_ANSWER = "Here are some tips, more than three, for a job interview:\n\n" + "\n".join(
    f"{i}. **{tip}.** {why}"
    for i, (tip, why) in enumerate(
        [
            ("Research the company", "Read its recent news and know what the team you join does."),
            ("Reread the job description", "Map each requirement to one story from your experience."),
            ("Prepare your stories", "Use situation, task, action, result; keep each under two minutes."),
            ("Practise out loud", "A friend or a recording shows where you ramble."),
            ("Prepare questions", "Ask about the team, the first ninety days and how success is measured."),
            ("Plan the logistics", "Know the route or test the video link a day before."),
            ("Dress one step up", "Match the company's style, slightly more formal."),
            ("Arrive early", "Ten minutes early for on-site, five for video."),
            ("Bring copies", "Your CV, a notebook and a pen."),
            ("Listen", "Answer the question that was asked, then stop."),
            ("Be honest about gaps", "Say what you would do to learn what you do not know."),
            ("Mind your body language", "Sit upright, keep eye contact, smile."),
            ("Talk about salary last", "Know your range, but let them bring it up."),
            ("Close well", "Restate your interest and ask about the next steps."),
            ("Follow up", "Send a short thank-you note within a day."),
            ("Reflect afterwards", "Write down the questions you were asked and how you would answer them now."),
            ("Keep applying", "Do not pause your search while you wait for an answer."),
        ],
        start=1,
    )
) + "\n\nGood luck! The interview is a conversation: they want you to be the right person as much as you do."


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def make_project(user, slug: str, records: list[dict], **settings) -> Project:
    """Import `records` (native format) into a new project owned by `user`, then apply `settings`."""
    data_import(project_slug=slug, fmt="native", stream=io.BytesIO(jsonl(records)), user=user)
    Project.objects.filter(slug=slug).update(name=settings.pop("name", slug.replace("-", " ").title()), **settings)
    return Project.objects.get(slug=slug)


def pairwise(item_id: str, prompt, a: str, b: str) -> dict:
    return {"id": item_id, "kind": "pairwise", "prompt": prompt, "responses": [{"text": a}, {"text": b}]}


def listwise(item_id: str, prompt, texts: list[str]) -> dict:
    return {"id": item_id, "kind": "listwise", "prompt": prompt, "responses": [{"text": t} for t in texts]}


def single(item_id: str, kind: str, prompt, text: str) -> dict:
    return {"id": item_id, "kind": kind, "prompt": prompt, "responses": [{"text": text}]}
