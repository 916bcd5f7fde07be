"""Files of other programs, read and written: STAR (:mod:`.star`), RELION's
coordinate files, coordinate lists and CTF tables (:mod:`.relion`), EMAN box
files (:mod:`.eman`) and MRC micrographs (:mod:`.mrc`)."""
