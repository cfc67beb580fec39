"""python manage.py load_demo_models [--steps N]: build and register the demo's models (idempotent)."""
from django.conf import settings
from django.core.management.base import BaseCommand

from training.services.demo import demo_models_load


class Command(BaseCommand):
    help = (
        "Build the demo chat model (first run: about a minute on 2 cores) and register it with the packaged "
        "all-MiniLM encoder, so every job form of the demo has a model. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--steps", type=int, default=None, help="training steps of the chat model (default 100)")

    def handle(self, *args, **opts):
        report = demo_models_load(model_dir=settings.MODEL_DIR, steps=opts["steps"])
        if report.built:
            b = report.built
            self.stdout.write(
                f"built the demo chat model: {b['params'] / 1e6:.1f} M parameters, {b['steps']:.0f} steps, "
                f"loss {b['loss_first']:.2f} -> {b['loss_last']:.2f}, {b['seconds']:.0f} s"
            )
        for name in report.registered:
            self.stdout.write(f"registered model: {name}")
        if not report.built and not report.registered:
            self.stdout.write("demo models already there: nothing changed")
