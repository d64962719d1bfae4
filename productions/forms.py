"""Forms. EpisodeForm holds every rule about what an episode may ask for; the API validates through it too."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator

from productions.catalog import cannot_render, profiles, video_models
from productions.lib.model_profiles import ProfileError
from productions.lib.spec import DELIVERY_SPEC
from productions.lib.upscale.config import realesrgan_problem
from productions.models import Character, Episode, Project
from productions.monitor import upscaler_refusal
from productions.validation import (
    MAX_DESCRIPTION_CHARS,
    MAX_NOTES_CHARS,
    MAX_PROMPT_CHARS,
    MAX_TRANSITIONS_CHARS,
    CheckedTextForm,
)

MAX_SEED = 2**32 - 1
MAX_WIDTH, MAX_HEIGHT = 3840, 2160
MAX_FPS = 60
MAX_BITRATE_BPS = 100_000_000
# The longest duration and the most segments an episode may have are the instance's caps
# (TOWER_MAX_EPISODE_DURATION_S, TOWER_MAX_EPISODE_SEGMENTS, TOWER_MAX_EPISODE_MB), read when a form is made.


class ProjectForm(CheckedTextForm, forms.ModelForm):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_DESCRIPTION_CHARS,
                                  required=False)

    class Meta:
        model = Project
        fields = ["name", "description"]


class EpisodeForm(CheckedTextForm, forms.ModelForm):
    synopsis = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}), max_length=MAX_PROMPT_CHARS, strip=True,
        help_text="What happens, in order: the storyboard's first draft gives each sentence a shot.",
        error_messages={"required": "Describe the episode: the prompt cannot be empty."},
    )
    style = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False)
    negative_prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False)
    seed = forms.IntegerField(min_value=0, max_value=MAX_SEED, initial=0,
                              error_messages={"invalid": "The seed must be a whole number."})
    duration_s = forms.FloatField(
        label="Duration (s)", min_value=DELIVERY_SPEC.min_duration_s, initial=DELIVERY_SPEC.min_duration_s)
    width = forms.IntegerField(min_value=DELIVERY_SPEC.width, max_value=MAX_WIDTH, initial=DELIVERY_SPEC.width)
    height = forms.IntegerField(
        min_value=DELIVERY_SPEC.height, max_value=MAX_HEIGHT, initial=DELIVERY_SPEC.height)
    fps = forms.IntegerField(label="Frame rate (fps)", min_value=DELIVERY_SPEC.fps, max_value=MAX_FPS,
                             initial=DELIVERY_SPEC.fps)
    min_bitrate_bps = forms.IntegerField(
        label="Minimum video bitrate (bit/s)", min_value=DELIVERY_SPEC.min_bitrate_bps,
        max_value=MAX_BITRATE_BPS, initial=DELIVERY_SPEC.min_bitrate_bps)
    segment_count = forms.IntegerField(
        label="Segments", min_value=1, required=False,
        help_text="Blank: as many as the model needs, each one native run of it (see the plan). A number: that "
                  "many equal segments, each still no longer than one run.")
    keyframe_model = forms.ChoiceField(
        label="Keyframe model", required=False, choices=(),
        help_text="Blank: the instance's (TOWER_KEYFRAME_MODEL). Keyframes are drawn at its native size.")
    video_model = forms.ChoiceField(
        label="Video model", required=False, choices=(),
        help_text="Blank: the instance's model. Each model generates at its own native size, length and rate.")
    transitions = forms.CharField(
        required=False, max_length=MAX_TRANSITIONS_CHARS, strip=True,
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
            "title", "synopsis", "style", "negative_prompt", "seed", "duration_s",
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
            refusal = upscaler_refusal(Episode.Upscaler.REALESRGAN)
            if refusal:
                raise forms.ValidationError(refusal if upscaler else f"The instance default (TOWER_UPSCALER) is "
                                                                     f"Real-ESRGAN. {refusal}")
        return upscaler

    def clean(self) -> dict:
        data = super().clean()
        width, height = data.get("width"), data.get("height")
        if width and height:
            if width % 2 or height % 2:
                self.add_error("width" if width % 2 else "height", "Width and height must be even numbers.")
            elif width * DELIVERY_SPEC.height != height * DELIVERY_SPEC.width:
                self.add_error("height", f"The frame must be 16:9 like the spec ({width}x{height} is not).")
        self.check_size(data)
        self.check_plan(data)
        return data

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name, cap in (("duration_s", settings.TOWER_MAX_EPISODE_DURATION_S),
                          ("segment_count", settings.TOWER_MAX_EPISODE_SEGMENTS)):
            field = self.fields[name]
            field.max_value = cap
            unit = " seconds" if name == "duration_s" else " segments"
            field.validators.append(MaxValueValidator(cap, message=(
                f"At most {cap:g}{unit} on this instance (ask an admin to raise the cap).")))
            field.widget.attrs["max"] = cap
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
            "synopsis", "style", "seed", "width", "height", "fps", "duration_s", "min_bitrate_bps")
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
            plan = episode.plan()
        except ValueError as exc:  # PlanError names its field; the producer's transitions raise plain ValueError
            field = getattr(exc, "field", None)
            text = f"{str(exc)[0].upper()}{str(exc)[1:]}" if field else str(exc)
            self.add_error(field or "transitions", f"{text}.")
            return
        self.check_segments(data, len(plan.segments))

    def check_segments(self, data: dict, segments: int) -> None:
        """The instance's cap on generation runs applies to the plan (a blank count means the model's own)."""
        cap = settings.TOWER_MAX_EPISODE_SEGMENTS
        if segments > cap and not self.has_error("segment_count"):
            self.add_error("segment_count" if data.get("segment_count") else "duration_s",
                           f"This episode needs {segments} segments with this model and duration; this instance "
                           f"allows at most {cap}: shorten the episode or choose a model with longer runs.")

    def check_size(self, data: dict) -> None:
        """The instance's cap on the delivery file: its duration at its constant video bitrate."""
        duration, bitrate = data.get("duration_s"), data.get("min_bitrate_bps")
        if duration is None or bitrate is None:
            return
        size_mb, cap_mb = duration * bitrate / 8 / 1e6, settings.TOWER_MAX_EPISODE_MB
        if size_mb > cap_mb:
            self.add_error("min_bitrate_bps", f"The video would be about {size_mb:,.0f} MB ({duration:g} s at this "
                                              f"bitrate); this instance allows at most {cap_mb:,.0f} MB: lower the "
                                              "bitrate or the duration.")


MAX_LORA_STRENGTH = 10.0  # either sign: ComfyUI allows -100..100, useful values are far inside +-10


class CharacterForm(CheckedTextForm, forms.ModelForm):
    """A character of the project's bible. The LoRA must be one the ComfyUI servers list (productions.characters);
    `lora_note` carries what to show when it could not be checked (no ComfyUI server configured)."""

    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_NOTES_CHARS,
                                  required=False, help_text="How the character looks; used in the prompt of every "
                                                            "shot the character is in.")
    lora_strength = forms.FloatField(label="LoRA strength", min_value=-MAX_LORA_STRENGTH,
                                     max_value=MAX_LORA_STRENGTH, initial=0.8,
                                     error_messages={"invalid": "The LoRA strength must be a number."})
    reference_image = forms.FileField(
        required=False, label="Reference picture",
        widget=forms.ClearableFileInput(attrs={"accept": "image/png,image/jpeg,image/webp"}),
        help_text="PNG, JPEG or WebP; shown on the storyboard and given to workflows that take a reference picture.")

    class Meta:
        model = Character
        fields = ["name", "description", "trigger_words", "lora", "lora_strength"]
        labels = {"lora": "LoRA file"}

    def __init__(self, *args, project: Project, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.project = project
        self.lora_note = ""
        self.picture_png: bytes | None = None

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data.get("name", "").split())
        if not name:
            raise forms.ValidationError("Give the character a name.")
        others = Character.objects.filter(project=self.project, name__iexact=name)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(f"This project already has a character named {name!r}.")
        return name

    def clean_lora(self) -> str:
        from productions.characters import lora_check

        lora = self.cleaned_data.get("lora", "").strip()
        if lora and (not self.instance.pk or lora != self.instance.lora):  # an unchanged LoRA is not re-checked
            verdict = lora_check(lora)
            if verdict.error:
                raise forms.ValidationError(verdict.error)
            self.lora_note = verdict.note
        return lora

    def clean_reference_image(self):
        from productions.characters import PictureRefused, picture_png

        upload = self.cleaned_data.get("reference_image")
        if upload:
            try:
                self.picture_png = picture_png(upload.read())
            except PictureRefused as exc:
                raise forms.ValidationError(str(exc)) from None
        return upload

    def save(self, commit: bool = True) -> Character:
        from productions.characters import store_picture

        character = super().save(commit=False)
        character.project = self.project
        if commit:
            character.save()
            if self.picture_png is not None:
                store_picture(character, self.picture_png)
        return character


class ProjectStyleForm(CheckedTextForm, forms.ModelForm):
    style = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS, required=False,
                            help_text="The project's look, added to every shot's prompt.")
    negative_style = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=MAX_NOTES_CHARS,
                                     required=False, help_text="What no shot should show (the negative prompt).")

    class Meta:
        model = Project
        fields = ["style", "negative_style"]
