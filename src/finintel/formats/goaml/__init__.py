"""goAML XML (UNODC) reports: schema description, safe streaming reader, writer."""
