"""Image-to-image translation: pictures, the history pool, evaluation, image files."""
