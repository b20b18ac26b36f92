import Foundation
import PetalCore
import PetalTraining

/// The folder `petal data audit` writes: `audit.html`, `audit.json` and `exclude.txt`. Petal
/// writes it only where nothing is, into an empty folder, or over an earlier Petal audit (a
/// folder holding only these files, whose audit.json reads as one): the new audit is built
/// under a hidden name beside it and renamed into place, so a failure leaves the old one whole.
public enum AuditFolder {
    public static let page = "audit.html", json = "audit.json", exclude = "exclude.txt"
    static let files: Set<String> = [page, json, exclude]

    /// Writes the audit into `destination` and returns the page's URL.
    @discardableResult
    public static func write(_ result: LabelAuditResult, to destination: URL) throws -> URL {
        let destination = destination.standardizedFileURL
        let replacing = try checkDestination(destination, data: URL(fileURLWithPath: result.data))
        let parent = destination.deletingLastPathComponent()
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).petal-new-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
            try PetalJSON.encode(result).writeAtomically(to: staging.appendingPathComponent(json))
            try Data(excludeList(result).utf8).writeAtomically(to: staging.appendingPathComponent(exclude))
            try Data(AuditPage(result).render().utf8).writeAtomically(to: staging.appendingPathComponent(page))
            if replacing {
                let old = parent.appendingPathComponent(".\(destination.lastPathComponent).petal-old-\(UUID().uuidString)")
                try move(destination, to: old)
                do { try move(staging, to: destination) } catch {
                    try? move(old, to: destination)
                    throw error
                }
                try? FileManager.default.removeItem(at: old)
            } else {
                try move(staging, to: destination)
            }
        } catch {
            try? FileManager.default.removeItem(at: staging)
            throw error
        }
        return destination.appendingPathComponent(page)
    }

    /// `exclude.txt`: the flagged images, one path (relative to the dataset) a line, most likely
    /// wrong first, after comment lines; `petal train --exclude` reads it.
    public static func excludeList(_ result: LabelAuditResult) -> String {
        var text = "# petal data audit: \(result.issues.count) images likely mislabeled in \(result.data)\n"
        text += "# paths relative to the dataset folder; remove a line to keep that image; lines starting with # are ignored\n"
        for issue in result.issues { text += issue.path + "\n" }
        return text
    }

    /// Throws unless an audit of `data` may be written at `url` (never inside the dataset);
    /// true when an earlier audit is there.
    public static func checkDestination(_ url: URL, data: URL) throws -> Bool {
        let dataPath = data.standardizedFileURL.resolvingSymlinksInPath().path
        let target = url.standardizedFileURL.resolvingSymlinksInPath().path
        if target == dataPath || target.hasPrefix(dataPath + "/") {
            throw AuditError.outputNotOurs(path: url.path, reason: "is inside the dataset folder \(data.path), which Petal only reads")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return false }
        guard isDirectory.boolValue else { throw AuditError.outputNotOurs(path: url.path, reason: "is a file") }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: url.path).sorted() } catch {
            throw AuditError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
        if names.isEmpty { return false }
        let foreign = names.filter { !files.contains($0) }
        if !foreign.isEmpty {
            throw AuditError.outputNotOurs(path: url.path, reason: "holds files Petal did not write (\(foreign.prefix(5).joined(separator: ", ")))")
        }
        guard let data = try? Data(contentsOf: url.appendingPathComponent(json)),
              (try? PetalJSON.decode(LabelAuditResult.self, from: data)) != nil else {
            throw AuditError.outputNotOurs(path: url.path, reason: "holds \(names.joined(separator: ", ")) but no audit.json of a Petal audit")
        }
        return true
    }

    private static func move(_ from: URL, to: URL) throws {
        guard rename(from.path, to.path) == 0 else {
            throw AuditError.cannotWrite(path: to.path, reason: String(cString: strerror(errno)))
        }
    }
}
