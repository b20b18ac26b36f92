import Foundation
import PetalData

extension TransferLearningConfig {
    /// The scanned dataset without the images `exclude` lists, and how many were left out
    /// (nil without `exclude`). Listed paths that are not images of the dataset are a warning
    /// (the list may predate a clean-up); a list none of whose paths match is an error.
    func leavingOutExcluded(_ folder: ImageFolder, message: (String) -> Void) throws -> (ImageFolder, Int?) {
        guard let exclude else { return (folder, nil) }
        let outcome = try ExcludeList.read(URL(fileURLWithPath: exclude)).apply(to: folder)
        message("Excluded \(outcome.excluded.count) images listed in \(exclude)")
        if !outcome.unknown.isEmpty {
            let shown = outcome.unknown.prefix(5).joined(separator: ", ")
            message("warning: \(outcome.unknown.count) paths in \(exclude) are not images of \(folder.root.path), ignored: \(shown)\(outcome.unknown.count > 5 ? ", ..." : "")")
        }
        return (outcome.folder, outcome.excluded.count)
    }
}
