import Foundation

/// Byte-identical files among a list: candidates grouped by length and FNV-1a hash (only
/// their indices are kept), confirmed byte for byte. Unreadable and empty files are left out.
public enum IdenticalFiles {
    /// Groups of indices into `urls` (each group of at least two, in list order), sorted by
    /// their first index.
    public static func groups(_ urls: [URL]) -> [[Int]] {
        var candidates: [String: [Int]] = [:]
        for (i, url) in urls.enumerated() {
            guard let data = try? Data(contentsOf: url), !data.isEmpty else { continue }
            candidates["\(data.count)-\(DatasetInspection.fnv1a(data))", default: []].append(i)
        }
        var groups: [[Int]] = []
        for members in candidates.values where members.count > 1 {
            var remaining = members.map { (index: $0, data: (try? Data(contentsOf: urls[$0])) ?? Data()) }
            while let first = remaining.first {
                let same = remaining.filter { $0.data == first.data }.map(\.index)
                remaining.removeAll { $0.data == first.data }
                if same.count > 1 { groups.append(same) }
            }
        }
        return groups.sorted { $0[0] < $1[0] }
    }
}
