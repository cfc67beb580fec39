"""python manage.py curate PROJECT [--config FILE.json] [--set key=value ...] [--name NAME]

Every CurationConfig field can be --set, e.g. --set method=auto --set flag_share=0.1 --set ties=review
--set priors.judge=0.6 --set exclude_annotators='["weak-judge"]' --set noise_weights.rm_ensemble=0
--set judge_orders=two. The report that follows names the aggregation chosen and each method's accuracy,
accuracy against references with 95 % intervals, each noise signal's AUROC and direction, and the tie counts."""
import json

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import PrefStudioError
from annotation.curation.report_text import curation_lines
from annotation.models import Project
from annotation.selectors.identities import annotator_names_for
from annotation.services.datasets import dataset_version_create


def parse_setting(text: str) -> tuple[list[str], object]:
    """"drop.noise_score=0.7" -> (["drop", "noise_score"], 0.7); a value that is not JSON stays a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"--set takes key=value, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().split("."), value


class Command(BaseCommand):
    help = "Run curation on a project and freeze a new dataset version; prints the version and its statistics."
    # A data command starts without Django's system checks: they import every URL, view and the curation stack
    # (1.5-3 s, most of a 100k export's wall time) to look for configuration mistakes that `manage.py check`,
    # `migrate` and `runserver` report anyway. `manage.py check` still runs them all.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("project", help="Project slug")
        parser.add_argument("--config", help="A JSON file with the curation config (annotation.curation.dataset)")
        parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                            help="Set one config field (JSON value; dotted keys reach into drop: drop.noise_score=0.7)")
        parser.add_argument("--name", default="", help="A name for the version")

    def handle(self, *args, **opts):
        config: dict = {}
        if opts["config"]:
            try:
                with open(opts["config"], encoding="utf-8") as stream:
                    config = json.load(stream)
            except OSError as exc:
                raise CommandError(f"cannot read {opts['config']}: {exc.strerror}") from exc
            except json.JSONDecodeError as exc:
                raise CommandError(f"{opts['config']} is not JSON: {exc}") from exc
            if not isinstance(config, dict):
                raise CommandError(f"{opts['config']} must hold a JSON object")
        for text in opts["set"]:
            path, value = parse_setting(text)
            target = config
            for key in path[:-1]:
                target = target.setdefault(key, {})
                if not isinstance(target, dict):
                    raise CommandError(f"--set {text}: {key} is not an object")
            target[path[-1]] = value
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        try:
            version = dataset_version_create(project=project, config=config, name=opts["name"])
        except PrefStudioError as exc:
            raise CommandError(exc.message) from exc
        stats = version.stats
        self.stdout.write(f"{project.slug} v{version.number}: {version.n_rows} rows "
                          f"(train {stats['splits']['train']}, test {stats['splits']['test']}) "
                          f"from {stats['kept_items']} of {stats['items']} items")
        for reason, n in stats["dropped"].items():
            self.stdout.write(f"  dropped {n} items: {reason}")
        self.stdout.write(f"  sources: {json.dumps(stats['sources'])}  kinds: {json.dumps(stats['rows_by_kind'])}")
        self.stdout.write(f"  config hash {version.config_hash}")
        # The operator's view: annotators by name (the stats store tokens).
        names = annotator_names_for(project=project, user=None, visible=True)
        for line in curation_lines(names.render_json(stats)):
            self.stdout.write(line)
