"""Running salesflow unattended: the data-directory lock and the supervised main job."""
