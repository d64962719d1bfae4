from django.urls import path

from productions import qa_views, views

urlpatterns = [
    path("", views.project_list, name="project-list"),
    path("projects/<int:pk>/", views.project_detail, name="project-detail"),
    path("projects/<int:pk>/episodes/new/", views.episode_new, name="episode-new"),
    path("projects/<int:pk>/characters/", views.project_characters, name="project-characters"),
    path("projects/<int:pk>/style/", views.project_style, name="project-style"),
    path("projects/<int:pk>/characters/<int:cid>/edit/", views.character_edit, name="character-edit"),
    path("projects/<int:pk>/characters/<int:cid>/delete/", views.character_delete, name="character-delete"),
    path("projects/<int:pk>/characters/<int:cid>/image/", views.character_image, name="character-image"),
    path("episodes/<int:pk>/", views.episode_detail, name="episode-detail"),
    path("episodes/<int:pk>/render/", views.episode_render, name="episode-render"),
    path("episodes/<int:pk>/qa/", qa_views.episode_qa, name="episode-qa"),
    path("episodes/<int:pk>/cancel/", views.episode_cancel, name="episode-cancel"),
    path("episodes/<int:pk>/live/", views.episode_live, name="episode-live"),
    path("episodes/<int:pk>/segments/<int:index>/review/<str:action>/", views.segment_review,
         name="segment-review"),
    path("episodes/<int:pk>/segments/<int:index>/attempts/<int:attempt>/<str:kind>/", views.attempt_file,
         name="attempt-file"),
    path("monitor/", views.monitor, name="monitor"),
    path("episodes/<int:pk>/<str:kind>/", views.episode_file, name="episode-file"),
    path("episodes/<int:pk>/segments/<int:index>/<str:kind>/", views.segment_file, name="segment-file"),
]
