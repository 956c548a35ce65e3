"""Bruker TopSpin experiment folders (raw fid + acqus, processed pdata/N), zipped or not."""
