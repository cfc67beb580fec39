"""CopySink writes a column that holds one value down a whole insert once, in the tail of every line: the rows
read back are the ORM sink's, whichever columns are constant and whatever their values need escaping."""
import pytest
from django.db import transaction

from annotation.models import Project, Prompt, Response
from annotation.services.bulk import CopySink, OrmSink

pytestmark = pytest.mark.django_db

COLUMNS = ("prompt_id", "external_id", "text", "model_name", "gen_params", "seed", "origin")
FIELDS = ("external_id", "text", "model_name", "gen_params", "seed", "origin")
# Values that need COPY escaping or are easy to confuse (1, 1.0 and true; NULL, "" and the text \N).
ODD_TEXTS = ["tab\there", "back\\slash", "new\nline\r\n", "Café 😀 東京", "\\N"]


def rows_for(prompt_pk: int, case: str) -> list[tuple]:
    n = 4
    if case == "all constant but the id":
        return [(prompt_pk, f"r{i}", "same\ttext\\", "m", {"t": 0.7}, 5, "imported") for i in range(n)]
    if case == "constant nulls and empties":
        return [(prompt_pk, f"r{i}", f"text {i}", "", {}, None, "imported") for i in range(n)]
    if case == "one row":
        return [(prompt_pk, "r0", "only\n", "m", {"a": [1, 2]}, -1, "imported")]
    if case == "numbers that compare equal":
        return [(prompt_pk, f"r{i}", "t", "m", {"x": v}, 7, "imported") for i, v in enumerate([1, 1.0, True, 1])]
    return [  # everything varies
        (prompt_pk, f"r{i}", text, f"m{i % 2}", {"i": i}, i if i % 2 else None, "imported")
        for i, text in enumerate(ODD_TEXTS)
    ]


@pytest.mark.parametrize("case", [
    "all constant but the id", "constant nulls and empties", "one row", "numbers that compare equal", "varying",
])
def test_copy_rows_read_back_as_the_orm_writes_them(case):
    written = {}
    for name, sink in (("copy", CopySink()), ("orm", OrmSink())):
        project = Project.objects.create(slug=f"bulk-{name}", name=name)
        with transaction.atomic(), sink.session():
            [prompt] = sink.insert(Prompt, ("project_id", "external_id", "messages"), [(project.pk, "p", [])])
            sink.insert(Response, COLUMNS, rows_for(prompt, case))
        written[name] = [
            tuple(row) for row in Response.objects.filter(prompt_id=prompt).order_by("external_id").values_list(*FIELDS)
        ]
    assert written["copy"] == written["orm"]
    assert len(written["copy"]) == len(rows_for(0, case))
    if case == "numbers that compare equal":  # equal in Python, but not one constant value
        assert [type(r[3]["x"]) for r in written["copy"]] == [int, float, bool, int]
