// A probe's or hook's Handler as JSON, in the shape of the manifest's fields
// ({"exec":{"command":[...]}}, {"httpGet":{"path":"/","port":8080,...}},
// {"sleep":{"seconds":5}}, ...): how a container keeps the preStop hook it
// was created with (ContainerAnnotations::pre_stop), to run it at a stop
// even when no source holds its object any more.
#ifndef BERTH_CONTROLLER_SPEC_HANDLER_JSON_H_
#define BERTH_CONTROLLER_SPEC_HANDLER_JSON_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "controller/spec/node_container.h"

namespace berth::controller {

// Compact JSON with every member of `handler` that is set. Stable: the same
// handler always gives the same text.
std::string HandlerToJson(const Handler& handler);

// The handler HandlerToJson wrote; nullopt for anything else (not JSON, a
// member of the wrong type, no handler or more than one).
std::optional<Handler> HandlerFromJson(absl::string_view json);

// `handler` with each port given by name replaced by the number of the
// entry of `ports` with that name; a name no entry has stays a name.
Handler WithPortNumbers(Handler handler, const std::vector<ContainerPort>& ports);

}  // namespace berth::controller

#endif  // BERTH_CONTROLLER_SPEC_HANDLER_JSON_H_
