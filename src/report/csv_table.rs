//! The CSV writer of every table apcsim writes (a sweep's summary.csv, the width × depth
//! study's study.csv and summary.csv): RFC 4180 through the `csv` crate, a field quoted when it
//! holds a comma, a quote or a line break (quotes doubled inside), lines ending in `\n`.
//! Numbers are formatted by the caller, so that each file keeps its own number format.

/// A CSV text built row by row.
///
/// ```
/// use apcsim::report::CsvTable;
///
/// let mut t = CsvTable::new(["device", "levels"]);
/// t.row(["rram, \"HfO2\"", "16"]);
/// assert_eq!(t.finish(), "device,levels\n\"rram, \"\"HfO2\"\"\",16\n");
/// ```
pub struct CsvTable {
    writer: csv::Writer<Vec<u8>>,
    columns: usize,
}

impl CsvTable {
    /// A table with these column names as its first line.
    pub fn new<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let writer = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let mut table = CsvTable { writer, columns: 0 };
        table.columns = table.row(header);
        table
    }

    /// Appends one row; returns how many fields it had. Every row should have as many fields as
    /// the header.
    pub fn row<I, S>(&mut self, fields: I) -> usize
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let fields: Vec<S> = fields.into_iter().collect();
        debug_assert!(
            self.columns == 0 || fields.len() == self.columns,
            "a CSV row of {} fields under a header of {}",
            fields.len(),
            self.columns
        );
        self.writer
            .write_record(fields.iter().map(|f| f.as_ref().as_bytes()))
            .expect("a flexible CSV writer into memory cannot fail");
        fields.len()
    }

    /// The whole text.
    pub fn finish(self) -> String {
        let bytes = self
            .writer
            .into_inner()
            .expect("a CSV writer into memory cannot fail to flush");
        // Every field went in as UTF-8 and quoting adds only ASCII.
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_exactly_when_they_must_be() {
        let mut t = CsvTable::new(["a", "b", "c", "d"]);
        t.row(["plain", "with,comma", "with \"quote\"", "line\nbreak"]);
        t.row(["carriage\rreturn", "", "1e-9", "[64,64]"]);
        let text = t.finish();
        assert_eq!(
            text,
            "a,b,c,d\nplain,\"with,comma\",\"with \"\"quote\"\"\",\"line\nbreak\"\n\
             \"carriage\rreturn\",,1e-9,\"[64,64]\"\n"
        );
        // What a CSV reader gets back is what went in.
        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(rows[0][3], "line\nbreak");
        assert_eq!(rows[1][0], "carriage\rreturn");
        assert_eq!(rows[1][1], "");
    }
}
