from django.contrib import admin

from productions.models import (
    Episode,
    Membership,
    MonitorSample,
    Project,
    QAReport,
    Segment,
    SegmentAttempt,
    WorkerHeartbeat,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 1


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [MembershipInline]


class SegmentInline(admin.TabularInline):
    model = Segment
    extra = 0
    fields = ["index", "status", "progress", "attempts", "seed", "error"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Episode)
class EpisodeAdmin(admin.ModelAdmin):
    list_display = ["title", "project", "status", "stage", "backend", "created_at", "finished_at"]
    list_filter = ["status", "backend", "project"]
    search_fields = ["title", "synopsis"]
    readonly_fields = ["claimed_by", "heartbeat_at", "started_at", "finished_at", "timings", "final_path",
                       "keyframe_path"]
    inlines = [SegmentInline]


class AttemptInline(admin.TabularInline):
    model = SegmentAttempt
    extra = 0
    readonly_fields = ["number", "backend", "server", "seed", "outcome", "error", "started_at", "finished_at"]
    exclude = ["prompt"]
    can_delete = False


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ["episode", "index", "status", "attempts", "progress"]
    list_filter = ["status"]
    inlines = [AttemptInline]


@admin.register(SegmentAttempt)
class SegmentAttemptAdmin(admin.ModelAdmin):
    list_display = ["segment", "number", "backend", "server", "outcome", "started_at", "finished_at"]
    list_filter = ["outcome", "backend"]


@admin.register(QAReport)
class QAReportAdmin(admin.ModelAdmin):
    list_display = ["episode", "segment", "kind", "passed", "created_at"]
    list_filter = ["kind", "passed"]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["worker_id", "host", "pid", "started_at", "seen_at", "stopped_at"]


@admin.register(MonitorSample)
class MonitorSampleAdmin(admin.ModelAdmin):
    list_display = ["at", "worker_id", "name", "vram_used", "vram_total", "utilization", "queue_depth"]
    list_filter = ["name"]
