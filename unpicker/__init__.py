"""emUnpicker: learn from a few hand-cleaned micrographs which autopicks to remove.

The data flow, top to bottom:

- picks and labels: :mod:`unpicker.formats` reads and writes other programs'
  files (STAR, RELION coordinates and lists, crYOLO, EMAN, EMAN2, Topaz,
  cryoSPARC, MRC micrographs); :mod:`unpicker.labels` matches autopicks
  with the user's cleaned copies;
- micrographs to boxes: :mod:`unpicker.images` (CTF, preprocessing, box
  extraction, augmentation; pure numpy/scipy);
- networks: :mod:`unpicker.networks` (the Keras back-end, the architectures,
  scoring, the model file);
- training: :mod:`unpicker.training` (the training set, batches, the loop,
  checkpoints, the default threshold);
- unpicking and what it shows: :mod:`unpicker.unpicking`,
  :mod:`unpicker.outputs`, :mod:`unpicker.report`.

Around them: :mod:`unpicker.guard` checks every output before anything is
written, :mod:`unpicker.files` writes them whole, :mod:`unpicker.relion_job`
speaks RELION's External-job protocol. One module per command in
:mod:`unpicker.commands`; :mod:`unpicker.demo` generates the demo's data.
"""
__version__ = "0.1.0"
