import Foundation

/// README examples that tests compile and run: the code between two marker comments of a
/// test source file, unindented as the README shows it.
public enum ReadmeExample {
    /// The lines between `    // <begin>` and `    // <end>` in `sourceFile`, one indent level removed.
    public static func code(in sourceFile: String, begin: String, end: String) throws -> String {
        let source = try String(contentsOf: URL(fileURLWithPath: sourceFile), encoding: .utf8)
        guard let start = source.range(of: "    // \(begin)\n")?.upperBound,
              let stop = source.range(of: "    // \(end)")?.lowerBound, start <= stop else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: sourceFile])
        }
        return source[start..<stop].split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
    }

    /// Whether README.md shows that code verbatim.
    public static func isShownInReadme(_ code: String) throws -> Bool {
        try String(contentsOf: Fixtures.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8).contains(code)
    }
}
