"""python manage.py agreement PROJECT [--judges]: agreement figures and accuracy against gold references."""
import json

from django.core.management.base import BaseCommand, CommandError

from annotation.curation.report_text import reference_lines
from annotation.models import Project
from annotation.selectors.curation import agreement_page
from annotation.selectors.identities import annotator_names_for


class Command(BaseCommand):
    help = ("Print a project's agreement figures, each annotator's agreement with the others, and accuracy against "
            "the gold references (per annotator and per aggregation method, 95 % intervals; reliability warnings "
            "when there are none).")

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug")
        parser.add_argument("--judges", action="store_true", help="Count the LLM judges' votes in the figures")
        parser.add_argument("--json", action="store_true", help="The reference report as JSON")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        names = annotator_names_for(project=project, user=None, visible=True)
        page = agreement_page(project=project, include_judges=True if opts["judges"] else None, names=names,
                              fresh=True)  # computed now, and stored for the pages (selectors.stored_figures)
        references = page.references.as_json(names.name) if page.references else None
        if opts["json"]:
            self.stdout.write(json.dumps(references, indent=1))
            return
        self.stdout.write(f"{project.slug}: {page.n_items} pairwise items, {page.n_votes} votes, "
                          f"{page.n_humans} people, {page.n_judges} judges")
        for key, name, figure, _ in page.figure_rows:
            value = "n/a" if figure.value is None else f"{figure.value:.3f}"
            self.stdout.write(f"  {name}: {value} (n={figure.n})")
        for a in page.annotators:
            value = "n/a" if a.agreement is None else f"{a.agreement:.3f}"
            self.stdout.write(f"  {a.name}: agreement with the others {value} (n={a.n})")
        for line in reference_lines(references) if references else []:
            self.stdout.write(line)
