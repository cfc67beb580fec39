"""python manage.py route PROJECT [--policy POLICY] [--budget 0.25 | --budget 100] [--seed N]

Runs the routing in this process (a command, not a web request; the curation page and POST /api/jobs/ with kind
"route" queue it as a job). Prints the cross-fitted gain only: no in-sample or predicted-gain figure."""
import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import PrefStudioError
from annotation.curation.report_text import reference_lines
from annotation.models import Project, RoutingPolicy
from annotation.selectors.identities import annotator_names_for
from annotation.selectors.references import reference_report_for
from annotation.services.routing import routing_run


class Command(BaseCommand):
    help = "Route a project's unstarted pairwise items to people or to the AI judges under a human budget."

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug")
        parser.add_argument("--policy", choices=RoutingPolicy.values, help="Default: the project's policy")
        parser.add_argument("--budget", help="A fraction of the items (0.25) or a number of items (100); "
                                             "default: the project's budget")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-embeddings", action="store_true", help="Leave the embedding feature out")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        budget: dict = {}
        if opts["budget"] is not None:
            text = opts["budget"]
            try:
                budget = {"budget_count": int(text)} if text.isdigit() else {"budget_fraction": float(text)}
            except ValueError as exc:
                raise CommandError(f"--budget takes a fraction or a count, got {text!r}") from exc
        try:
            result = routing_run(project=project, policy=opts["policy"], seed=opts["seed"],
                                 embeddings=not opts["no_embeddings"], **budget)
        except PrefStudioError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{project.slug}: policy {result['policy']}, {result['items']} items, budget "
                          f"{result['budget']} → {result['human']} to people, {result['ai']} to the AI judges")
        self.stdout.write(f"  embeddings: {result['embedded']} texts embedded, {result['embedding_cache_hits']} "
                          "from the cache")
        model = result["model"]
        if model:
            self.stdout.write(f"  gain model: {model['kind']} on {model['training_items']} items "
                              f"({'reused: same training rows' if model['reused'] else 'fitted and saved'}); "
                              f"cross-validated AUROC {json.dumps(model['cv_auroc'])}")
        cf = result["crossfit"]
        if cf:  # the only gain reported: out of sample (annotation.curation.routing.crossfit_gain)
            self.stdout.write(
                f"  cross-fitted gain on {cf['items']} items with known AI errors ({cf['ai_errors']}): the top "
                f"{cf['budget']} by out-of-sample gain catch {cf['caught']} (random: {cf['random_caught']:.1f}), "
                f"gain {cf['gain']:+.1f} errors, AUROC {cf['auroc']:.3f}"
                + (f", {cf['folds']} folds" if cf["folds"] else ", nothing fitted"))
        elif result["policy"] in ("rules", "learned", "random"):
            self.stdout.write("  cross-fitted gain: not measurable (needs at least 2 items whose AI label is known "
                              "wrong and 2 known right)")
        self.stdout.write(f"  run {result['run_id']}")
        # What routing trades off, scored: people and judges against the gold references, where there are any.
        names = annotator_names_for(project=project, user=None, visible=True)
        for line in reference_lines(reference_report_for(project=project).as_json(names.name)):
            self.stdout.write(line)
