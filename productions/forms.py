"""Forms. EpisodeForm holds every rule about what an episode may ask for; the API validates through it too."""

from __future__ import annotations

from django import forms
from django.conf import settings

from productions.lib.interpolation import resolve_profile
from productions.lib.planning import parse_joins, plan_episode
from productions.lib.spec import DELIVERY_SPEC, DeliverySpec
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
    segment_count = forms.IntegerField(label="Segments", min_value=1, max_value=MAX_SEGMENTS, initial=6)
    transitions = forms.CharField(
        required=False, max_length=500, strip=True,
        help_text="How segments join. Blank: every segment continues the one before (a continuous join, no "
                  "dissolve). To start a new shot, name the segment it leads into: '3: cut; 5: dissolve 12; "
                  "6: fade 24' (dissolve and fade through black last that many frames).")
    native_fps = forms.IntegerField(
        label="Generation rate (fps)", required=False, min_value=1, max_value=MAX_FPS,
        help_text="Blank: the backend's own rate (the built-in generator draws on twos; SVD runs at 8 fps).")

    class Meta:
        model = Episode
        fields = [
            "title", "synopsis", "style", "characters", "negative_prompt", "seed", "duration_s",
            "width", "height", "fps", "min_bitrate_bps", "segment_count", "transitions", "backend", "upscaler",
            "interpolation", "native_fps",
        ]
        help_texts = {
            "interpolation": "From the generation rate to the delivery rate. Blank: the backend's default "
                             "(hold for the built-in generator, RIFE/mci for ComfyUI). 'blend' makes double "
                             "exposures on anything that moves.",
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
            problem = realesrgan_problem(settings.TOWER_UPSCALE_MODEL)
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

    def check_plan(self, data: dict) -> None:
        """The joins, rate and interpolation must give a plan: say which field is wrong when they don't."""
        count, fps = data.get("segment_count"), data.get("fps")
        if not count or not fps or "duration_s" not in data:
            return
        try:
            joins = parse_joins(data.get("transitions", ""), count)
        except ValueError as exc:
            self.add_error("transitions", f"{exc}.")
            return
        backend = data.get("backend") or settings.TOWER_BACKEND
        try:
            profile = resolve_profile(backend, fps, data.get("native_fps"), data.get("interpolation", ""))
        except ValueError as exc:
            self.add_error("interpolation", f"{exc}.")
            return
        if profile.native_fps > fps:
            self.add_error("native_fps", f"Generate at most at the delivery rate ({fps} fps).")
            return
        spec = DeliverySpec(fps=fps, min_duration_s=data["duration_s"])
        try:
            plan_episode("", 0, spec, duration_s=data["duration_s"], segments=count, joins=joins,
                         native_fps=profile.native_fps, interpolation=profile.interpolation)
        except ValueError as exc:
            field = "interpolation" if "interpolation" in str(exc) else "transitions"
            self.add_error(field, f"{str(exc)[0].upper()}{str(exc)[1:]}.")
