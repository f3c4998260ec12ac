"""Market data sources behind one small interface (:class:`PriceSource`)."""
