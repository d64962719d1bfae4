from django.urls import path

from productions import keyframe_views, qa_views, storyboard_views, views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/episodes/new/", views.episode_new, name="episode-new"),
    path("episodes/<int:pk>/", views.episode_detail, name="episode-detail"),
    path("episodes/<int:pk>/storyboard/", storyboard_views.episode_storyboard, name="episode-storyboard"),
    *[path(f"episodes/<int:pk>/storyboard/shots/<int:index>/{op}/", storyboard_views.shot_change,
           {"op": op}, name=f"shot-{op}") for op in storyboard_views.OPERATIONS],
    path("episodes/<int:pk>/render/", views.episode_render, name="episode-render"),
    path("episodes/<int:pk>/qa/", qa_views.episode_qa, name="episode-qa"),
    path("episodes/<int:pk>/cancel/", views.episode_cancel, name="episode-cancel"),
    path("episodes/<int:pk>/live/", views.episode_live, name="episode-live"),
    path("episodes/<int:pk>/segments/<int:index>/review/<str:action>/", views.segment_review,
         name="segment-review"),
    path("episodes/<int:pk>/segments/<int:index>/attempts/<int:attempt>/<str:kind>/", views.attempt_file,
         name="attempt-file"),
    path("episodes/<int:pk>/keyframes/", keyframe_views.episode_keyframes, name="episode-keyframes"),
    path("episodes/<int:pk>/keyframes/<int:attempt_id>/", keyframe_views.keyframe_attempt, name="keyframe-attempt"),
    path("episodes/<int:pk>/shots/<int:index>/keyframe/", keyframe_views.shot_keyframe, name="shot-keyframe"),
    path("episodes/<int:pk>/shots/<int:index>/keyframe/approve/", keyframe_views.shot_keyframe_action,
         {"action": "approve"}, name="shot-keyframe-approve"),
    path("episodes/<int:pk>/shots/<int:index>/keyframe/remake/", keyframe_views.shot_keyframe_action,
         {"action": "remake"}, name="shot-keyframe-remake"),
    path("monitor/", views.monitor, name="monitor"),
    path("episodes/<int:pk>/<str:kind>/", views.episode_file, name="episode-file"),
    path("episodes/<int:pk>/segments/<int:index>/<str:kind>/", views.segment_file, name="segment-file"),
]
