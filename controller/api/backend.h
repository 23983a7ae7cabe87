// ApiBackend: what the local API reads and drives in berthd. The daemon
// implements it over its parts (controller/berthd/api_backend.h); tests
// implement it over fakes. Every method is safe to call from any thread,
// at any time between the server's Start and Stop.
#ifndef BERTH_CONTROLLER_API_BACKEND_H_
#define BERTH_CONTROLLER_API_BACKEND_H_

#include <string>

namespace berth::api {

struct NodeInfo {
  std::string node_name;
  std::string mode;  // "standalone" or "cluster"
  std::string runc_version;
};

class ApiBackend {
 public:
  virtual ~ApiBackend() = default;

  virtual NodeInfo Node() const = 0;
};

}  // namespace berth::api

#endif  // BERTH_CONTROLLER_API_BACKEND_H_
