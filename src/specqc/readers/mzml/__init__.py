"""mzML and mzXML (open formats), read through pyopenms."""
