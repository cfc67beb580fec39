from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        """Answer annotation's extension points (annotation/extensions.py): annotation never imports training."""
        from annotation import extensions

        from .extensions import TrainingJobs, TrainingRewardModels

        extensions.register_jobs(TrainingJobs())
        extensions.register_reward_models(TrainingRewardModels())
