"""The report's sections: each module gathers its data (``gather``, from the database,
through the domains' own functions) and turns a ``MonthlyReport`` into a neutral
``Section`` (``section``) that every renderer draws."""
