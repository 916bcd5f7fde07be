"""Reports a user opens in a browser (no server: one folder with index.html
and its images, relative paths): what unpicking removed, with a live
threshold (:mod:`.unpicking`), and how training went (:mod:`.training`).
The pictures are made with numpy and Pillow (:mod:`.images`)."""
