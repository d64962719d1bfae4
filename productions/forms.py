"""Forms. EpisodeForm holds every rule about what an episode may ask for; the API validates through it too."""

from __future__ import annotations

from django import forms
from django.conf import settings

from productions.catalog import cannot_render, profiles, video_models
from productions.lib.model_profiles import ProfileError
from productions.lib.spec import DELIVERY_SPEC
from productions.lib.upscale.config import realesrgan_problem
from productions.models import Episode, Project

MAX_PROMPT_CHARS = 4000
MAX_NOTES_CHARS = 2000
MAX_SEED = 2**32 - 1
MAX_DURATION_S = 600
MAX_WIDTH, MAX_HEIGHT = 3840, 2160
MAX_FPS = 60
MAX_BITRATE_BPS = 100_000_000
MAX_SEGMENTS = 48


class ProjectForm(forms.ModelForm):
    class Meta:
        model = Project
        fields = ["name", "description"]


class EpisodeForm(forms.ModelForm):
    synopsis = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=MAX_PROMPT_CHARS, strip=True,
        help_text="What happens, in order. Each sentence feeds the next segment.",
        error_messages={"required": "Describe the episode: the prompt cannot be empty."},
    )
    style = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False)
    characters = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False)
    negative_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False)
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, initial=0,
                              error_messages={"invalid": "The seed must be a whole number."})
    duration_s = forms.FloatField(
        label="Duration (s)", min_value=DELIVERY_SPEC.min_duration_s, max_value=MAX_DURATION_S,
        initial=DELIVERY_SPEC.min_duration_s)
    width = forms.IntegerField(min_value=DELIVERY_SPEC.width, max_value=MAX_WIDTH, initial=DELIVERY_SPEC.width)
    height = forms.IntegerField(
        min_value=DELIVERY_SPEC.height, max_value=MAX_HEIGHT, initial=DELIVERY_SPEC.height)
    fps = forms.IntegerField(label="Frame rate (fps)", min_value=DELIVERY_SPEC.fps, max_value=MAX_FPS,
                             initial=DELIVERY_SPEC.fps)
    min_bitrate_bps = forms.IntegerField(
        label="Minimum video bitrate (bit/s)", min_value=DELIVERY_SPEC.min_bitrate_bps,
        max_value=MAX_BITRATE_BPS, initial=DELIVERY_SPEC.min_bitrate_bps)
    segment_count = forms.IntegerField(
        label="Segments", min_value=1, max_value=MAX_SEGMENTS, required=False,
        help_text="Blank: as many as the model needs, each one native run of it (see the plan). A number: that "
                  "many equal segments, each still no longer than one run.")
    keyframe_model = forms.ChoiceField(
        label="Keyframe model", required=False, choices=(),
        help_text="Blank: the instance's (TOWER_KEYFRAME_MODEL). Keyframes are drawn at its native size.")
    video_model = forms.ChoiceField(
        label="Video model", required=False, choices=(),
        help_text="Blank: the instance's model. Each model generates at its own native size, length and rate.")
    transitions = forms.CharField(
        required=False, max_length=500, strip=True,
        help_text="How segments join. Blank: every segment continues the one before (a continuous join, no "
                  "dissolve). To start a new shot, name the segment it leads into: '3: cut; 5: dissolve 12; "
                  "6: fade 24' (dissolve and fade through black last that many frames).")
    native_fps = forms.IntegerField(
        label="Generation rate (fps)", required=False, min_value=1, max_value=MAX_FPS,
        help_text="Blank: the model's own rate (the built-in generator draws on twos; SVD-XT runs at 6 fps, "
                  "Wan 2.2 TI2V-5B at 24).")

    class Meta:
        model = Episode
        fields = [
            "title", "synopsis", "style", "characters", "negative_prompt", "seed", "duration_s",
            "width", "height", "fps", "min_bitrate_bps", "segment_count", "transitions", "video_model",
            "keyframe_model", "backend", "upscaler", "interpolation", "native_fps",
        ]
        help_texts = {
            "interpolation": "From the generation rate to the delivery rate. Blank: the model's default "
                             "(hold for the built-in generator, RIFE for SVD-XT, none for Wan 2.2 at 24 fps). "
                             "'blend' makes double exposures on anything that moves.",
        }

    def clean_title(self) -> str:
        title = self.cleaned_data["title"].strip()
        if not title:
            raise forms.ValidationError("Give the episode a title.")
        return title

    def clean_backend(self) -> str:
        backend = self.cleaned_data.get("backend", "")
        effective = backend or settings.TOWER_BACKEND
        if effective == Episode.Backend.COMFYUI and not settings.TOWER_COMFYUI_URLS:
            raise forms.ValidationError("No ComfyUI server is configured (TOWER_COMFYUI_URLS is empty).")
        return backend

    def clean_upscaler(self) -> str:
        upscaler = self.cleaned_data.get("upscaler", "")
        if (upscaler or settings.TOWER_UPSCALER) == Episode.Upscaler.REALESRGAN:
            problem = realesrgan_problem(settings.TOWER_UPSCALE_MODEL, settings.TOWER_MODELS_DIR or None)
            if problem:
                raise forms.ValidationError(f"Real-ESRGAN cannot run on this installation: {problem}.")
        return upscaler

    def clean(self) -> dict:
        data = super().clean()
        width, height = data.get("width"), data.get("height")
        if width and height:
            if width % 2 or height % 2:
                self.add_error("width" if width % 2 else "height", "Width and height must be even numbers.")
            elif width * DELIVERY_SPEC.height != height * DELIVERY_SPEC.width:
                self.add_error("height", f"The frame must be 16:9 like the spec ({width}x{height} is not).")
        self.check_plan(data)
        return data

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["video_model"].choices = [("", "Instance default")] + [
            (p.name, f"{p.label} ({p.native_width}x{p.native_height}"
                     + (f", {p.frames_per_run} frames per run" if p.frames_per_run else "") + ")")
            for p in video_models()]
        self.fields["keyframe_model"].choices = [("", "Instance default")] + [
            (p.name, f"{p.label} ({p.native_width}x{p.native_height})")
            for p in sorted(profiles().values(), key=lambda p: p.name) if p.kind == "image"]

    def clean_video_model(self) -> str:
        name = self.cleaned_data.get("video_model", "")
        if name:
            profile = profiles().get(name)
            if profile and cannot_render(profile):
                raise forms.ValidationError(f"{cannot_render(profile)}.")
            if profile and profile.backend == "comfyui" and not settings.TOWER_COMFYUI_URLS:
                raise forms.ValidationError(f"{profile.label} runs on ComfyUI, and no ComfyUI server is "
                                            "configured (TOWER_COMFYUI_URLS is empty).")
        return name

    def check_plan(self, data: dict) -> None:
        """The model, joins, rate and interpolation must give a plan: say which field is wrong when they don't.
        The plan is the episode's own (Episode.plan), made from the submitted values."""
        if not data.get("fps") or "duration_s" not in data:
            return
        model = data.get("video_model", "")
        backend = data.get("backend", "")
        if model and backend:
            profile = profiles().get(model)
            if profile and profile.backend != backend:
                self.add_error("video_model", f"{profile.label} runs on the {profile.backend} backend, not "
                                              f"{backend}: choose another model or backend.")
                return
        episode = Episode(**{k: data.get(k) for k in (
            "synopsis", "style", "characters", "seed", "width", "height", "fps", "duration_s", "min_bitrate_bps")
            if data.get(k) is not None})
        episode.segment_count = data.get("segment_count") or None
        episode.transitions = data.get("transitions", "")
        episode.video_model, episode.backend = model, backend
        episode.native_fps, episode.interpolation = data.get("native_fps"), data.get("interpolation", "")
        try:
            profile = episode.generation_profile()
        except ProfileError as exc:
            self.add_error("video_model", f"{exc}.")
            return
        except ValueError as exc:
            self.add_error("interpolation", f"{exc}.")
            return
        if profile.native_fps > data["fps"]:
            self.add_error("native_fps", f"Generate at most at the delivery rate ({data['fps']} fps).")
            return
        try:
            episode.plan()
        except ValueError as exc:  # PlanError names its field; the producer's transitions raise plain ValueError
            field = getattr(exc, "field", None)
            text = f"{str(exc)[0].upper()}{str(exc)[1:]}" if field else str(exc)
            self.add_error(field or "transitions", f"{text}.")
