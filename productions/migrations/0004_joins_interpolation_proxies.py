"""Joins by kind per segment, interpolation per episode, review proxies instead of 1080p masters (issue 10)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("productions", "0003_review_and_monitor"),
    ]

    operations = [
        migrations.RemoveField(model_name="episode", name="crossfade_s"),
        migrations.AddField(
            model_name="episode", name="transitions", field=models.CharField(blank=True, max_length=500)),
        migrations.AlterField(
            model_name="episode", name="native_fps", field=models.PositiveSmallIntegerField(blank=True, null=True)),
        migrations.AddField(
            model_name="episode", name="interpolation",
            field=models.CharField(blank=True, default="", max_length=10, choices=[
                ("", "Backend default"), ("none", "none (generated at the delivery rate)"),
                ("hold", "hold (each drawing held, anime on twos/threes)"), ("mci", "motion-compensated (mci)"),
                ("rife", "RIFE in ComfyUI (mci where a server lacks it)"),
                ("blend", "blend (double exposures on motion)")])),
        migrations.AddField(
            model_name="segment", name="join",
            field=models.CharField(default="continuous", max_length=12, choices=[
                ("continuous", "continuous"), ("cut", "cut"), ("dissolve", "dissolve"), ("fade", "fade")])),
        migrations.AddField(model_name="segment", name="join_frames", field=models.PositiveSmallIntegerField(default=0)),
        migrations.RenameField(model_name="segment", old_name="master_path", new_name="proxy_path"),
        migrations.AddField(
            model_name="segment", name="upscaled_path", field=models.CharField(blank=True, max_length=500)),
        migrations.AddField(
            model_name="segment", name="keyframe_path", field=models.CharField(blank=True, max_length=500)),
        migrations.AddField(model_name="segment", name="clip_fps", field=models.FloatField(blank=True, null=True)),
    ]
