"""Drop the single-column indexes of Assignment.item and .annotator: assignment_item_live_idx (item, status,
expires_at) and assignment_annotator_idx (annotator, status) lead with the same columns and serve every lookup and
cascade that used them, and each index of this table is written by every lease and every submit (issue 13).

Only the indexes: Django's AlterField would also drop and re-add both foreign keys, checking every row again."""
import django.db.models.deletion
from django.db import migrations, models

INDEXES = {"item": "annotation_assignment_item_id_21c60055", "annotator": "annotation_assignment_annotator_id_5d071d66"}


class Migration(migrations.Migration):

    dependencies = [
        ("annotation", "0018_item_counts_sharded"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="assignment",
                    name="annotator",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="assignments", to="annotation.annotator"),
                ),
                migrations.AlterField(
                    model_name="assignment",
                    name="item",
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                            related_name="assignments", to="annotation.item"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(f"DROP INDEX IF EXISTS {index}",
                                  f'CREATE INDEX IF NOT EXISTS {index} ON annotation_assignment ("{column}_id")')
                for column, index in INDEXES.items()
            ],
        ),
    ]
